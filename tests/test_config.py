"""Where the daemon, the CLI and agents look by default: one answer for all of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signerd.config import Config, default_data_dir, default_socket_path


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SIGNERD_SOCKET", raising=False)
    return tmp_path / "home"


def test_the_data_directory_follows_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data" / "signerd"
    assert Config().data_dir == tmp_path / "data" / "signerd"  # what `signerd serve` opens
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == home / ".local" / "share" / "signerd"


@pytest.mark.parametrize("value", ["relative/path", "", "."])
def test_a_relative_xdg_directory_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path, value: str
) -> None:
    # Taken as is, a relative value would put the store and the socket under whatever
    # directory each process started in (the XDG spec says to ignore it).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", value)
    monkeypatch.setenv("XDG_RUNTIME_DIR", value)
    assert default_data_dir() == home / ".local" / "share" / "signerd"
    fallback = Path(f"/tmp/signerd-{os.getuid()}") / "signerd" / "signerd.sock"
    assert default_socket_path() == fallback


def test_the_socket_follows_signerd_socket_then_xdg_runtime_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert default_socket_path() == tmp_path / "run" / "signerd" / "signerd.sock"
    monkeypatch.setenv("SIGNERD_SOCKET", str(tmp_path / "agents.sock"))
    assert default_socket_path() == tmp_path / "agents.sock"
