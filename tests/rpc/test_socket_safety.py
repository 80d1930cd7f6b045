"""Another local user cannot take over the socket's path, the data directory or the daemon's
place on the socket (issue 11, item 2): every component is checked, clients check the uid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from signerd.client import Client
from signerd.config import load_config
from signerd.errors import ErrorCode, UnsafePath, UntrustedDaemon
from signerd.rpc.server import _remove_stale_socket
from signerd.safepath import private_directory
from signerd.store import Store
from tests.users import local_user

ROOT = Path(__file__).parents[2]
# The fake daemon needs only the standard library, from an interpreter any user may run.
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def test_a_symlinked_socket_directory_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    os.chmod(victim, 0o755)
    (tmp_path / "run").mkdir(mode=0o700)
    (tmp_path / "run" / "signerd").symlink_to(victim)
    with pytest.raises(UnsafePath, match="symlink") as caught:
        private_directory(tmp_path / "run" / "signerd")
    assert caught.value.code == ErrorCode.UNSAFE_PATH
    assert (victim.stat().st_mode & 0o777) == 0o755  # never chmodded through the link


def test_writable_components_are_refused_with_the_fix(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # not sticky: anyone could rename what we create below
    with pytest.raises(UnsafePath, match="not sticky"):
        private_directory(shared / "signerd")
    os.chmod(shared, 0o1777)  # like /tmp: entries stay their owners'
    private_directory(shared / "signerd")
    assert (shared / "signerd").stat().st_mode & 0o777 == 0o700
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o777)
    with pytest.raises(UnsafePath, match="chmod go-w"):
        private_directory(mine)


def test_a_group_socket_directory_has_traversable_parents(tmp_path: Path) -> None:
    private_directory(tmp_path / "run" / "signerd", mode=0o710, gid=os.getgid())
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o711
    assert (tmp_path / "run" / "signerd").stat().st_mode & 0o777 == 0o710


def test_only_a_socket_of_ours_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "file.sock").write_text("")
    with pytest.raises(UnsafePath, match="not a socket"):
        _remove_stale_socket(tmp_path / "file.sock")
    (tmp_path / "link.sock").symlink_to(tmp_path / "elsewhere.sock")
    with pytest.raises(UnsafePath, match="not a socket"):
        _remove_stale_socket(tmp_path / "link.sock")


def test_a_symlinked_data_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "data").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePath, match="symlink"):
        Store.open(tmp_path / "data")


def test_another_users_data_directory_is_refused(tmp_path: Path) -> None:
    with local_user() as other:
        data = tmp_path / "data"
        data.mkdir(mode=0o700)
        os.chown(data, other.uid, -1)
        with pytest.raises(UnsafePath, match=f"belongs to uid {other.uid}"):
            Store.open(data)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory other users can reach (pytest's tmp_path is private to us)."""
    path = Path(tempfile.mkdtemp(prefix="signerd-test-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_precreated_runtime_directory_stops_the_daemon(open_tmp: Path) -> None:
    # Without XDG_RUNTIME_DIR the socket lives under /tmp/signerd-$UID, a name anyone can
    # take first: here another user creates it 0777 (in a /tmp-like sticky directory)
    # before the daemon starts.
    with local_user() as attacker:
        tmp = open_tmp / "tmp"
        tmp.mkdir()
        os.chmod(tmp, 0o1777)
        planted = tmp / f"signerd-{os.getuid()}"
        assert attacker.run("mkdir", "-m", "0777", str(planted)).returncode == 0
        argv = [sys.executable, "-m", "signerd.cli", "serve", "--device", "udp:127.0.0.1:1"]
        argv += ["--socket", str(planted / "signerd" / "signerd.sock")]
        argv += ["--data-dir", str(open_tmp / "data")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
        assert done.returncode != 0, done.stderr
        assert f"{planted} belongs to uid {attacker.uid}" in done.stderr
        assert "UNSAFE_PATH" in done.stderr
        assert not (planted / "signerd").exists()


FAKE_DAEMON = """
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); s.settimeout(20)
print("ready", flush=True)
conn, _ = s.accept(); conn.settimeout(2)
try:
    data = conn.recv(65536)
except OSError:
    data = b""
print(repr(data), flush=True)
"""


def test_a_client_sends_nothing_to_a_daemon_of_another_uid(open_tmp: Path) -> None:
    with local_user() as attacker:
        shared = open_tmp / "shared"
        shared.mkdir()
        os.chmod(shared, 0o1777)
        path = shared / "signerd.sock"
        fake = attacker.popen(SYSTEM_PYTHON, "-c", FAKE_DAEMON, str(path))
        try:
            assert fake.stdout is not None and fake.stdout.readline().strip() == "ready"
            with pytest.raises(UntrustedDaemon, match=f"runs as uid {attacker.uid}") as caught:
                Client(path, timeout=5).status()
            assert caught.value.code == ErrorCode.UNTRUSTED_DAEMON
            out, _ = fake.communicate(timeout=10)
            assert out.strip() == "b''"  # the fake daemon received nothing
        finally:
            if fake.poll() is None:
                fake.kill()
                fake.wait(timeout=10)


def test_a_config_another_user_could_edit_is_refused(tmp_path: Path) -> None:
    """The config says which uids the daemon serves: whoever can edit it is served."""
    config = tmp_path / "signerd.toml"
    config.write_text("[daemon]\nallowed_uids = [0]\n")
    config.chmod(0o644)
    assert load_config(config).allowed_uids  # ours, not writable by others: read
    config.chmod(0o666)
    with pytest.raises(UnsafePath, match="chmod go-w"):
        load_config(config)
    config.chmod(0o644)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could replace the file in it
    (shared / "signerd.toml").write_text(config.read_text())
    with pytest.raises(UnsafePath, match="not sticky"):
        load_config(shared / "signerd.toml")
    with local_user() as other:
        os.chown(config, other.uid, -1)
        with pytest.raises(UnsafePath, match=f"belongs to uid {other.uid}"):
            load_config(config)
