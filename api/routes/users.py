"""People, for admins: list, add, change role and scope, disable, set a password."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from .. import people
from ..deps import Admin, Conn

router = APIRouter(tags=["people"])


class PasswordSet(BaseModel):
    password: str


@router.get("/users", response_model=list[people.User])
def list_users(conn: Conn, who: Admin):
    return people.list_users(conn)


@router.post("/users", status_code=201, response_model=people.User)
def add_user(body: people.UserNew, conn: Conn, who: Admin):
    """Add a person with a role and scope (viewer: municipality; officer: police area;
    technician: either; admin: none)."""
    user = people.add_user(conn, who.actor, body)
    conn.commit()
    return user


@router.get("/users/{user_id}", response_model=people.User)
def get_user(user_id: int, conn: Conn, who: Admin):
    return people.get_user(conn, user_id)


@router.patch("/users/{user_id}", response_model=people.User)
def change_user(user_id: int, body: people.UserChange, conn: Conn, who: Admin):
    """Change name, role, scope or ``active``; disabling ends the person's sessions and tokens at once."""
    user = people.update_user(conn, who.actor, user_id, body, now=datetime.now(UTC))
    conn.commit()
    return user


@router.put("/users/{user_id}/password", response_model=people.User)
def set_password(user_id: int, body: PasswordSet, conn: Conn, who: Admin):
    """Set (reset) a person's password; their sessions end."""
    user = people.set_password(conn, who.actor, user_id, body.password, now=datetime.now(UTC))
    conn.commit()
    return user
