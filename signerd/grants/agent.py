"""The ``agent`` field: the agent's own label, quoted, then what the kernel told the daemon.

    "weather-bot" via uid 1000 pid 4242 exe /usr/bin/python3

The label is the agent's word and may say anything it likes, so it is confined to
LABEL_CHARACTERS (no quote, space, slash, parenthesis or comma) and always shown in quotes:
nothing inside the quotes can end them or look like the part after them. uid and pid come from
SO_PEERCRED and the executable from /proc, as the kernel reports it; the executable is the
program's own name on disk, so it is sanitised the same way (any other character becomes "?")
and cut at the front when long, keeping its end. Verifiers check a version 2 agent against
``AGENT_PATTERN``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from signerd.errors import ValidationError
from signerd.grants.schema import LABEL_CHARACTERS, MAX_LABEL, MAX_STRING

_LABEL = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_LABEL}}}")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]")
_NOT_EXE = re.compile(r"[^A-Za-z0-9._/-]")
_ID_LIMIT: Final = 2**32  # uid_t and pid_t are 32-bit: anything else did not come from a kernel

AGENT_PATTERN: Final = re.compile(
    rf'"[A-Za-z0-9._?-]{{1,{MAX_LABEL}}}"'
    r"(?: via(?= )(?: uid [0-9]{1,10})?(?: pid [0-9]{1,10})?(?: exe [A-Za-z0-9._/?-]+)?)?"
)
"""Every agent string ``agent_description`` can write, and nothing else."""


def label(value: Any, field: str = "agent") -> str:
    """An agent's self-chosen label: 1 to MAX_LABEL letters, digits, '-', '_' or '.'."""
    if not isinstance(value, str) or not _LABEL.fullmatch(value):
        raise ValidationError(
            field, f"must be 1 to {MAX_LABEL} {LABEL_CHARACTERS} (no spaces or other signs)"
        )
    return value


def agent_description(label: str, uid: int | None, pid: int | None, exe: str | None) -> str:
    """What the daemon signs as ``agent``; always matches AGENT_PATTERN, <= MAX_STRING.

    A label that slipped past ``label()`` has its other characters replaced by "?" and is cut
    to MAX_LABEL; uid or pid values no kernel reports are left out.
    """
    name = _NOT_LABEL.sub("?", label)[:MAX_LABEL] or "unnamed"
    parts = [
        f"{kind} {number}"
        for kind, number in (("uid", uid), ("pid", pid))
        if number is not None and 0 <= number < _ID_LIMIT
    ]
    described = f'"{name}"' + (" via " + " ".join(parts) if parts else "")
    program = _NOT_EXE.sub("?", exe) if exe else ""
    if program:
        prefix = f"{described} exe " if parts else f"{described} via exe "
        room = MAX_STRING - len(prefix)
        if len(program) > room:
            program = ".." + program[len(program) - room + 2 :]
        described = prefix + program
    return described


def check_agent(value: str, field: str) -> str:
    """A version 2 ``agent`` value: exactly the form ``agent_description`` writes."""
    if not AGENT_PATTERN.fullmatch(value):
        raise ValidationError(field, 'must read "label" via uid U pid P exe PATH')
    return value
