"""systemd user units for signerd: the daemon starts at the first connection to its socket.

``signerd.socket`` listens on ``%t/signerd/signerd.sock`` (``%t`` is ``$XDG_RUNTIME_DIR`` for a
user unit: the path every client looks at by default) and passes the socket to
``signerd.service`` (systemd's LISTEN_FDS protocol, ``signerd.rpc.activation``). The units are
rendered here, for the executable that runs this code, so a virtualenv or a ``pip install
--user`` works without editing them; ``systemd/`` in the source tree holds them rendered for
``/usr/bin/signerd`` (tests/test_service.py keeps the two the same).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SOCKET_UNIT = "signerd.socket"
SERVICE_UNIT = "signerd.service"
PACKAGED_EXECUTABLE = "/usr/bin/signerd"

_SOCKET = """\
[Unit]
Description=signerd socket: agents ask for hardware-wallet-approved grants here

[Socket]
ListenStream=%t/signerd/signerd.sock
SocketMode=0600
DirectoryMode=0700
# One daemon serves every connection (it reads each peer's uid itself).
Accept=no

[Install]
WantedBy=sockets.target
"""

_SERVICE = """\
[Unit]
Description=signerd: hardware-wallet-approved session keys for agents
Requires=signerd.socket
After=signerd.socket

[Service]
Type=exec
ExecStart={exec_start}
# Settings without editing this unit, e.g. SIGNERD_DEVICE=trezor:usb (`signerd serve --help`).
EnvironmentFile=-%E/signerd/environment
{environment}Restart=on-failure
UMask=0077
LimitCORE=0
NoNewPrivileges=yes

[Install]
Also=signerd.socket
"""


def executable() -> list[str]:
    """argv[0..] that runs this signerd: the ``signerd`` script beside this interpreter (a
    virtualenv's bin/), else ``python -m signerd.cli``."""
    script = Path(sys.executable).parent / "signerd"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "signerd.cli"]


def render_units(
    command: list[str], *, device: str | None = None, config: Path | None = None
) -> dict[str, str]:
    """The unit files' names and texts for ``command`` (the argv that runs signerd), serving
    ``device`` and/or with the settings of ``config`` (signerd.toml)."""
    serve = [*command, "serve"]
    if config is not None:
        serve += ["--config", str(config)]
    exec_start = " ".join(_systemd_quote(arg) for arg in serve)
    environment = ""
    if device is not None:
        _systemd_quote(device)  # the same characters are refused
        # Environment= expands specifiers ("%"), not variables.
        environment = f'Environment="SIGNERD_DEVICE={device.replace("%", "%%")}"\n'
    return {
        SOCKET_UNIT: _SOCKET,
        SERVICE_UNIT: _SERVICE.format(exec_start=exec_start, environment=environment),
    }


def user_unit_dir() -> Path:
    """Where systemd looks for a user's own units: $XDG_CONFIG_HOME/systemd/user."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def install_steps() -> list[str]:
    return [
        "systemctl --user daemon-reload",
        f"systemctl --user enable --now {SOCKET_UNIT}",
        "signerd status        # the first connection starts the daemon",
    ]


def _systemd_quote(arg: str) -> str:
    """``arg`` as one word of a unit's command line: "%" starts a specifier and "$" a
    variable there, so both are doubled to stay literal; a word with spaces is quoted."""
    if any(c in arg for c in "\"'\\\n"):
        raise ValueError(f"{arg!r}: quotes, backslashes and newlines cannot go into a unit")
    escaped = arg.replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if any(c.isspace() for c in arg) else escaped
