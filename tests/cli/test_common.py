"""What every command shares: one error line with name and code, usage errors, the spinner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from signerd.cli import device as device_commands
from signerd.cli import main
from signerd.cli.common import Spinner, errors
from signerd.cli.outcomes import ExitCode
from signerd.errors import GrantRevoked, SignerdError, UserRejected, ValidationError


@pytest.mark.parametrize(
    ("error", "line", "exit_code"),
    [
        (GrantRevoked("grant 0xaa is revoked"), "grant 0xaa is revoked [GRANT_REVOKED -32021]", 6),
        (
            UserRejected("rejected on the device"),
            "rejected on the device [REJECTED_ON_DEVICE 4001]",
            4,
        ),
        (
            ValidationError("allowances.0.amount", "negative"),
            "allowances.0.amount: negative [INVALID_PARAMS -32602]",
            2,
        ),
        (SignerdError("bug"), "bug [INTERNAL_ERROR -32603]", 9),
    ],
)
def test_errors_are_one_line_with_name_and_code(
    error: SignerdError, line: str, exit_code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited, errors():
        raise error
    assert exited.value.code == exit_code
    assert capsys.readouterr().err == f"error: {line}\n"


def test_a_lost_daemon_is_unavailable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited, errors():
        raise ConnectionResetError("reset by peer")
    assert exited.value.code == ExitCode.UNAVAILABLE
    assert "lost the connection to signerd" in capsys.readouterr().err


def test_with_json_errors_are_one_json_line() -> None:
    result = CliRunner().invoke(main, ["request", "--json", "--agent", "a", "--allow", "usdc"])
    assert result.exit_code == ExitCode.INVALID_INPUT
    error = json.loads(result.output)["error"]
    assert (error["code"], error["name"], error["data"]) == (
        -32602,
        "INVALID_PARAMS",
        {"field": "allowances"},
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--allow", "usdc", "Invalid value for '--allow': 'usdc': use TOKEN:AMOUNT[:PERIOD[:MAX]]"),
        ("--allow", "eth:1:1x", "Invalid value for '--allow': '1x': use seconds or a number"),
        ("--valid-for", "1x", "Invalid value for '--valid-for': '1x': use seconds or a number"),
    ],
)
def test_bad_shorthand_is_a_usage_error(option: str, value: str, message: str) -> None:
    result = CliRunner().invoke(main, ["request", "--agent", "a", option, value])
    assert result.exit_code == 2
    assert message in result.output


def test_request_needs_a_chain_id() -> None:
    """No silent default of chain 1: the chain decides what a token address is."""
    result = CliRunner().invoke(main, ["request", "--agent", "a", "--generate", "--allow", "eth:1"])
    assert result.exit_code == 2
    assert "Missing option '--chain-id'" in result.output


def test_a_request_file_is_the_whole_request(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{}")
    result = CliRunner().invoke(main, ["request", "--file", str(path), "--agent", "a"])
    assert result.exit_code == 2
    assert "--file holds the whole request: drop --agent" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "r.json: not JSON: Expecting property name"),
        ("[1, 2]", "r.json: the request must be a JSON object"),
        (b"\xff\xfe{}", "r.json: not UTF-8 text"),
    ],
)
def test_a_bad_request_file_is_one_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(main, ["request", "--file", str(path)])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.output.startswith(f"error: {path}") or message in result.output
    assert message.split(": ", 1)[1] in result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output


def test_spinner_says_what_it_waits_for_first(capsys: pytest.CaptureFixture[str]) -> None:
    with Spinner("Confirm on your device") as spinner:
        spinner.say("The device will show: 1 ETH")
    assert capsys.readouterr().err == "Confirm on your device ...\nThe device will show: 1 ETH\n"


def test_lazy_spinner_waits_for_the_first_line(capsys: pytest.CaptureFixture[str]) -> None:
    with Spinner("Confirm on your device", lazy=True):
        pass
    assert capsys.readouterr().err == ""
    with Spinner("Confirm on your device", lazy=True) as spinner:
        spinner.say("The device will show: 1 ETH")
    assert capsys.readouterr().err == "Confirm on your device ...\nThe device will show: 1 ETH\n"


def test_relayed_progress_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "\x1b]0;owned\x07Confirm\x1b[2J\x1b[1;1H on\rdevice\x9b31m\nfake line\x1bc"
    with Spinner("Waiting") as spinner:
        spinner.say(hostile)
    err = capsys.readouterr().err
    assert err == "Waiting ...\nConfirm ondevice fake line\n"


def test_devices_lists_emulators_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bool] = []

    def discover(*, emulators: bool) -> list[Any]:
        asked.append(emulators)
        return []

    monkeypatch.setattr(device_commands, "discover", discover)
    assert CliRunner().invoke(main, ["devices"]).exit_code == 0
    assert CliRunner().invoke(main, ["devices", "--emulators"]).exit_code == 0
    assert asked == [False, True]


def test_every_command_takes_json() -> None:
    pending: list[tuple[str, click.Command]] = list(main.commands.items())
    while pending:
        name, command = pending.pop()
        if isinstance(command, click.Group):  # its subcommands, e.g. `signerd account address`
            pending += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
            continue
        options = {opt for param in command.params for opt in param.opts}
        assert "--json" in options, f"signerd {name} has no --json"
