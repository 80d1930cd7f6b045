"""DaemonProcess's working directory: what it writes there cannot be redirected."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from signerd.errors import UnsafePath
from signerd.launch import DaemonProcess


def test_a_symlinked_workdir_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "work"
    link.symlink_to(target)
    with pytest.raises(UnsafePath):
        DaemonProcess("udp:127.0.0.1:9", link, config="[daemon]\n")
    assert list(target.iterdir()) == []  # no signerd.toml written through the link


def test_the_workdir_is_made_private(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "work"
    DaemonProcess("udp:127.0.0.1:9", fresh, config="[daemon]\n")
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    DaemonProcess("udp:127.0.0.1:9", existing)
    for work in (fresh, existing):
        assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert (fresh / "signerd.toml").read_text() == "[daemon]\n"
