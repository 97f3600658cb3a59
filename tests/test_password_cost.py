"""The argon2id cost setting (``api.passwords``): production keeps the library's recommended
parameters, and the setting (which the test run lowers, tests/conftest.py) reaches the hashes."""

from __future__ import annotations

import os
import subprocess
import sys

from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from api import passwords
from fartkoll.settings import PasswordSettings, Settings


def _parameters(phc: str) -> str:
    return phc.split("$")[3]  # $argon2id$v=19$m=…,t=…,p=…$salt$hash


def test_the_defaults_are_the_librarys_recommended_parameters():
    default = PasswordSettings()
    library = PasswordHasher()
    assert (default.time_cost, default.memory_kib, default.parallelism) == (
        library.time_cost, library.memory_cost, library.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FARTKOLL_API__PASSWORDS__")}
    code = ("from fartkoll.settings import Settings; p = Settings.load().api.passwords; "
            "print(p.time_cost, p.memory_kib, p.parallelism)")
    shown = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["3", "65536", "4"]


def test_the_setting_decides_the_parameters_and_a_weaker_hash_is_renewed():
    lowered = Settings.load().api.passwords
    assert lowered.memory_kib < PasswordSettings().memory_kib  # the test run's own cost
    weak = passwords.hash_password("ett långt lösenord")
    assert _parameters(weak) == f"m={lowered.memory_kib},t={lowered.time_cost},p={lowered.parallelism}"
    assert passwords.verify(weak, "ett långt lösenord") and not passwords.verify(weak, "ett annat lösenord")
    assert not passwords.needs_rehash(weak)
    try:
        passwords.configure(time_cost=3, memory_kib=65536, parallelism=4)
        assert passwords.needs_rehash(weak)  # a login at the production cost renews it
        assert passwords.verify(weak, "ett långt lösenord")  # the parameters travel with the hash
        assert _parameters(passwords.hash_password("ett långt lösenord")) == "m=65536,t=3,p=4"
    finally:
        passwords.configure(**lowered.model_dump())
