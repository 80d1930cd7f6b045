"""What the commands share: their common options, error reporting and the progress spinner."""

from __future__ import annotations

import itertools
import json
import os
import re
import select
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from signerd.cli.outcomes import ExitCode, exit_code_of
from signerd.errors import Cancelled, DaemonUnavailable, ErrorCode, SignerdError
from signerd.jsonsafe import js_safe

_F = TypeVar("_F", bound=Callable[..., Any])

SOCKET_OPTION = click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    envvar="SIGNERD_SOCKET",
    help="Daemon socket (default: $XDG_RUNTIME_DIR/signerd/signerd.sock).",
)
DEVICE_OPTION = click.option(
    "--device",
    "device",
    required=True,
    envvar="SIGNERD_DEVICE",
    help="Device path: udp:127.0.0.1:21324, webusb:…, hid:…, tcp:127.0.0.1:9999, ledger:hid, "
    "or auto (the only USB device found; never an emulator).",
)
DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Where the store lives."
)


JSON_META = "signerd.json"  # ctx.meta key: the command was given --json


def _note_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_META] = True
    return value


def json_option(help: str = "Machine-readable output (and errors).") -> Callable[[_F], _F]:
    """``--json``, passed to the command as ``as_json``; eager, so that even an error in
    another option is reported as JSON."""
    return click.option(
        "--json", "as_json", is_flag=True, is_eager=True, callback=_note_json, help=help
    )


def json_wanted() -> bool:
    """Whether the running command was given ``--json``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(JSON_META))


# ANSI escape sequences (CSI, OSC and other ESC-introduced ones), then any remaining C0/C1
# control character but tab; what a daemon relays (a device's prompt, an agent's label
# quoted in an error) must not move the cursor, retitle or rewrite the person's terminal.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL or ST
    r"|\x1b[ -~]?"  # any other ESC and the byte it introduces
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` without terminal control sequences and control characters; newlines become
    spaces unless ``multiline`` (a relayed line cannot pass for several of ours)."""
    text = _ESCAPES.sub("", text)
    return text if multiline else text.replace("\n", " ")


def fail(message: str, code: ExitCode = ExitCode.NEGATIVE, name: str = "FAILED") -> NoReturn:
    """Print ``error: message`` on stderr (with ``--json``, an error object named ``name``
    and no signerd code) and exit with ``code``: by default a verdict, "no"."""
    if json_wanted():
        click.echo(error_json(None, name, message), err=True)
    else:
        click.echo(f"error: {printable(message, multiline=True)}", err=True)
    sys.exit(code)


def print_json(value: Any) -> None:
    click.echo(json.dumps(js_safe(value), indent=2))  # big integers as strings, as on the socket


def error_json(code: int | None, name: str, message: str, data: Any = None) -> str:
    """The one-line JSON error every command prints with ``--json``."""
    error = {"code": code, "name": name, "message": message, "data": data}
    return json.dumps({"error": error}, separators=(",", ":"))


def report(exc: SignerdError) -> None:
    """Print a signerd error on stderr: one JSON line with ``--json``, else one line of text."""
    if json_wanted():
        click.echo(error_json(int(exc.code), exc.name, str(exc), exc.data), err=True)
    else:
        click.echo(
            f"error: {printable(str(exc), multiline=True)} [{exc.name} {int(exc.code)}]", err=True
        )


@contextmanager
def errors() -> Iterator[None]:
    """Report a signerd error, a lost daemon or Ctrl-C, and exit with its code (outcomes)."""
    try:
        yield
    except SignerdError as exc:
        report(exc)
        sys.exit(exit_code_of(exc))
    except ConnectionError as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            sys.exit(ExitCode.BROKEN_PIPE)  # nobody reads any more: nothing to report
        # The daemon went away mid-call.
        report(DaemonUnavailable(f"lost the connection to signerd ({exc})"))
        sys.exit(ExitCode.UNAVAILABLE)
    except KeyboardInterrupt:
        report(Cancelled("interrupted (Ctrl-C); nothing is left waiting on the device"))
        sys.exit(ExitCode.INTERRUPTED)
    except click.UsageError as exc:
        if not json_wanted():
            raise  # click prints the usage and exits 2
        param = exc.param if isinstance(exc, click.BadParameter) else None
        data = {"field": param.name} if param is not None else None
        code = ErrorCode.INVALID_PARAMS
        click.echo(error_json(int(code), code.name, exc.format_message(), data), err=True)
        sys.exit(ExitCode.INVALID_INPUT)


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader is gone (poll says POLLERR); if so,
    later writes (Python flushes once more on exit) go to /dev/null, quietly."""
    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        closed = any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError):  # no file descriptor: not a pipe
        return False
    if closed:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return closed


class SignerdGroup(click.Group):
    """The command group: every command's errors are reported and mapped to exit codes here,
    in one place, so the commands themselves only call the library and print."""

    def invoke(self, ctx: click.Context) -> Any:
        with errors():
            return super().invoke(ctx)


class Spinner:
    """Shows that we wait for the person, without blocking; progress lines go to stderr.

    With ``lazy`` it starts at the first progress line rather than on entry, so checks that
    fail before anything reaches the device do not first tell the person to confirm.
    """

    def __init__(self, message: str, *, lazy: bool = False) -> None:
        self.message = message
        self._lazy = lazy
        self._started = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tty = sys.stderr.isatty()
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        """Print a progress line (above the spinner on a terminal)."""
        self._start()
        self._write(printable(line))

    def _write(self, line: str) -> None:
        with self._lock:
            if self._tty:
                sys.stderr.write("\r\033[K")
            sys.stderr.write(f"{line}\n")
            sys.stderr.flush()

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._tty:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        else:
            self._write(f"{self.message} ...")

    def _spin(self) -> None:
        for frame in itertools.cycle("|/-\\"):
            if self._stop.wait(0.12):
                return
            with self._lock:
                sys.stderr.write(f"\r{frame} {self.message} ")
                sys.stderr.flush()

    def __enter__(self) -> Spinner:
        if not self._lazy:
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
