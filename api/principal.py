"""Who is asking: a person (by session or personal token), a sign (by its upload token), or
nobody. Pure data; :mod:`api.auth` resolves it from a request."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "officer", "technician", "admin")
# what each role may do includes what the roles before it in its chain may do
RANK = {"anonymous": 0, "viewer": 1, "officer": 2, "technician": 2, "admin": 3}


def role_of(stored: str) -> str:
    """The role a stored ``users.role`` acts as: rows with the early 'planner' role (municipality
    staff) act as viewers; the schema still allows the value so older databases keep working."""
    return "viewer" if stored == "planner" else stored


@dataclass(frozen=True)
class Principal:
    """An authenticated person, or the anonymous visitor (``user_id`` None, role ``anonymous``).

    Scope: a viewer sees ``municipality_id``; an officer every municipality of
    ``police_area_id``; a technician manages the signs of ``municipality_id`` (or of the police
    area); an admin everything (see :mod:`api.scope`).
    """

    user_id: int | None
    email: str
    role: str
    municipality_id: int | None = None
    police_area_id: int | None = None
    session_id: int | None = None          # set when authenticated by a session cookie
    token_id: int | None = None            # set when authenticated by a personal token

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    @property
    def actor(self) -> str:
        """What the audit log records as who did it."""
        return self.email if self.user_id is not None else "anonymous"


ANONYMOUS = Principal(user_id=None, email="", role="anonymous")


@dataclass(frozen=True)
class SignPrincipal:
    """A sign authenticated by its upload token: it may write for itself only."""

    sign_id: int
    serial: str
    token_id: int

    @property
    def actor(self) -> str:
        return f"sign:{self.serial}"
