"""Throwaway local users for the multi-user tests: created with useradd, removed afterwards.

Only root can create users; without root (or useradd) the tests that need them skip, saying
why. Commands run as a user through ``runuser -u USER --``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True)
class LocalUser:
    name: str
    uid: int

    def run(
        self, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` as this user (``env`` replaces the environment), output captured."""
        prefix = ["runuser", "-u", self.name, "--"]
        if env is not None:
            prefix += ["env", "-i", *(f"{k}={v}" for k, v in env.items())]
        return subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, timeout=COMMAND_TIMEOUT
        )

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["runuser", "-u", self.name, "--", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def require_root() -> None:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root with useradd and runuser to create a second local user")


@contextmanager
def local_user() -> Iterator[LocalUser]:
    """A new system user without a home directory, deleted on the way out."""
    require_root()
    name = f"sgd{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        timeout=COMMAND_TIMEOUT,
    )
    try:
        yield LocalUser(name, pwd.getpwnam(name).pw_uid)
    finally:
        subprocess.run(["userdel", name], check=False, timeout=COMMAND_TIMEOUT)
