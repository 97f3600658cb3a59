"""`fartkoll user add | list | disable | password` as an operator runs them: the password typed at
a real pseudo-terminal (the real command in a subprocess) or piped with --password-stdin (once in a
subprocess, otherwise the same `fartkoll.cli.main` called in this process: tests/inprocess_cli.py)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from inprocess_cli import run
from people import make_world, session_cookie

from api import people, sessions
from core.errors import Unauthenticated

NEW_PASSWORD = "ett nytt långt lösenord"


def _env(db_url: str) -> dict[str, str]:
    return {**os.environ, "FARTKOLL_DATABASE_URL": db_url}


def cli(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`fartkoll user *args` called in this process."""
    return run(["user", *args], env=_env(db_url), stdin=stdin)


def cli_subprocess(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`fartkoll user *args` in a new process, standard input a pipe."""
    return subprocess.run([sys.executable, "-m", "fartkoll.cli", "user", *args], env=_env(db_url), check=False,
                          input=stdin, capture_output=True, text=True, timeout=60)


def cli_at_terminal(db_url: str, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its controlling terminal; type each answer
    after the next prompt ending in ': '. Returns the exit code and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal's slave side is its stdin, stdout and /dev/tty
        argv = [sys.executable, "-m", "fartkoll.cli", "user", *args]
        os.execve(sys.executable, argv, _env(db_url))  # noqa: S606 - the CLI itself, fixed argv
    shown = since = b""  # everything shown, and what was shown since the last answer
    pending = list(answers)
    deadline = time.monotonic() + 60
    while True:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError(f"the command did not finish; the terminal showed {shown!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        since += chunk
        # answer a new prompt only: typing ahead of getpass would be flushed when it turns echo off
        if pending and since.strip() and since.rstrip().endswith(b":"):
            os.write(fd, pending.pop(0).encode() + b"\n")
            since = b""
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def _places(db) -> None:
    pa = db.execute("INSERT INTO police_areas (name) VALUES ('LPO Norr') RETURNING id").fetchone()[0]
    db.execute("INSERT INTO municipalities (name, code, police_area_id) VALUES ('Ängsvik', '1901', %s)", (pa,))
    db.commit()


def _can_log_in(db, email: str, password: str) -> bool:
    try:
        sessions.login(db, sessions.Login(email=email, password=password), now=datetime.now(UTC), address="cli-test")
    except Unauthenticated:
        return False
    db.rollback()
    return True


def test_first_admin_is_added_with_the_password_typed_twice_at_the_terminal(db, db_url):
    _places(db)
    code, shown = cli_at_terminal(db_url, ["add", "Chef@Angsvik.se", "--role", "admin", "--name", "Chef"],
                                  ["första lösenordet!", "första lösenordet!"])
    assert code == 0, shown
    assert "Password for Chef@Angsvik.se:" in shown and "Again:" in shown
    assert "första lösenordet" not in shown  # not echoed
    assert "added chef@angsvik.se (admin)" in shown
    assert _can_log_in(db, "chef@angsvik.se", "första lösenordet!")
    assert db.execute("SELECT actor, action FROM audit_log").fetchall() == [("cli", "user.add")]


def test_two_different_passwords_at_the_terminal_add_nobody(db, db_url):
    _places(db)
    code, shown = cli_at_terminal(db_url, ["add", "a@angsvik.se", "--role", "admin"],
                                  ["ett lösenord här", "ett annat här"])
    assert code == 2 and "the two passwords differ" in shown
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_add_with_scope_by_name_and_list_as_table_and_json(db, db_url):
    _places(db)
    r = cli_subprocess(db_url, "add", "anna@angsvik.se", "--role", "viewer", "--municipality", "ängsvik",
                       "--password-stdin", stdin="ett långt lösenord\n")
    assert r.returncode == 0, r.stderr
    assert "municipality Ängsvik" in r.stdout
    r = cli(db_url, "add", "polis@polisen.se", "--role", "officer", "--police-area", "LPO Norr", "--no-password")
    assert r.returncode == 0 and "no password yet" in r.stdout
    r = cli(db_url, "add", "tekniker@angsvik.se", "--role", "technician", "--municipality", "1901", "--password-stdin",
            stdin="ett långt lösenord\n")
    assert r.returncode == 0, r.stderr
    table = cli(db_url, "list").stdout.splitlines()
    assert [line.split()[:2] for line in table] == [
        ["anna@angsvik.se", "viewer"], ["polis@polisen.se", "officer"], ["tekniker@angsvik.se", "technician"]]
    assert "no password" in table[1] and "police area LPO Norr" in table[1]
    listed = json.loads(cli(db_url, "list", "--json").stdout)
    assert listed == [u.model_dump(mode="json") for u in people.list_users(db)]  # the API's shape
    assert _can_log_in(db, "anna@angsvik.se", "ett långt lösenord")
    assert not _can_log_in(db, "polis@polisen.se", "")


@pytest.mark.parametrize(("args", "stdin", "code", "words"), [
    (["add", "x@angsvik.se", "--role", "viewer", "--municipality", "Atlantis", "--no-password"], None, 3,
     ["no municipality named 'Atlantis'"]),
    (["add", "x@angsvik.se", "--role", "viewer", "--no-password"], None, 2, ["viewer needs the municipality"]),
    (["add", "x@angsvik.se", "--role", "officer", "--municipality", "Ängsvik", "--no-password"], None, 2,
     ["officer needs their police area"]),
    (["add", "not-an-address", "--role", "admin", "--no-password"], None, 2, ["'not-an-address'", "not an e-mail"]),
    (["add", "x@angsvik.se", "--role", "admin", "--password-stdin"], "kort\n", 2, ["10 to 1024 characters"]),
    (["add", "x@angsvik.se", "--role", "admin", "--password-stdin"], "", 2, ["standard input is empty"]),
    (["add", "x@angsvik.se", "--role", "admin"], "", 2, ["no terminal", "--password-stdin"]),
    (["disable", "nobody@angsvik.se"], None, 3, ["no user with e-mail 'nobody@angsvik.se'"]),
    (["password", "nobody@angsvik.se", "--password-stdin"], "ett långt lösenord\n", 3, ["no user"]),
])
def test_bad_input_is_refused_with_its_value_and_exit_code(db, db_url, args, stdin, code, words):
    _places(db)
    r = cli(db_url, *args, stdin=stdin)
    assert r.returncode == code, r.stderr
    assert all(w in r.stderr for w in words), r.stderr
    assert "Traceback" not in r.stderr and "kort" not in r.stderr
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_an_e_mail_in_use_is_a_conflict(db, db_url):
    _places(db)
    assert cli(db_url, "add", "a@angsvik.se", "--role", "admin", "--no-password").returncode == 0
    r = cli(db_url, "add", "A@Angsvik.se", "--role", "admin", "--no-password")
    assert r.returncode == 4 and "exists already" in r.stderr


def test_disable_ends_sessions_at_once_and_password_resets(db, db_url):
    world = make_world(db)
    email = world.users["viewer"].email
    secret = session_cookie(db, world.users["viewer"].id)
    now = datetime.now(UTC)
    assert sessions.resolve(db, secret, now=now) is not None
    r = cli(db_url, "password", email, "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert r.returncode == 0 and "sessions ended" in r.stdout
    assert sessions.resolve(db, secret, now=now) is None
    assert _can_log_in(db, email, NEW_PASSWORD) and not _can_log_in(db, email, "correct horse battery")
    secret = session_cookie(db, world.users["viewer"].id)
    r = cli(db_url, "disable", email)
    assert r.returncode == 0, r.stderr
    assert sessions.resolve(db, secret, now=now) is None
    assert not _can_log_in(db, email, NEW_PASSWORD)
    assert "disabled" in next(line for line in cli(db_url, "list").stdout.splitlines() if line.startswith(email))
    actions = db.execute("SELECT actor, action FROM audit_log WHERE actor = 'cli' ORDER BY id").fetchall()
    assert actions == [("cli", "user.password"), ("cli", "user.disable")]
    # the last active admin cannot be disabled
    r = cli(db_url, "disable", world.users["admin"].email)
    assert r.returncode == 4 and "last active admin" in r.stderr
