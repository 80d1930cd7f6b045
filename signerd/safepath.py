"""Directories signerd creates or trusts, made and checked so another local user cannot swap them.

The socket's fallback directory lives under /tmp, where any user may create names first. So
every component is walked from ``/`` with directory descriptors (``openat``): an existing
ancestor must belong to root or to us and, if others may write to it, be sticky (like /tmp,
where nobody can rename another user's entry); the directories signerd creates and the one
it uses must be ours, not writable by group or others, and never symlinks. Anything else is
refused with UnsafePath, whose message says what to fix: signerd never chmods or chowns a
directory it did not just find to be its own.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from signerd.errors import UnsafePath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def private_directory(directory: Path, *, mode: int = 0o700, gid: int | None = None) -> None:
    """Create ``directory`` (and missing parents) as ours with ``mode``, or check it is.

    ``gid``: the directory's group (for a socket shared with a group); the mode may then
    give that group access but never write access to others.
    """
    me = os.getuid()
    # Parents it creates: private, or (for a group's socket) traversable but not listable.
    parent_mode = 0o700 if gid is None else 0o711
    parts = Path(os.path.abspath(directory)).parts
    fd = os.open("/", _DIR_FLAGS)
    try:
        for depth, name in enumerate(parts[1:], start=2):
            here = Path(*parts[:depth])
            last = depth == len(parts)
            created = _make(fd, name, mode if last else parent_mode)
            ours = created or last
            child = _open_dir(fd, name, here, follow=not ours)
            os.close(fd)
            fd = child
            st = os.fstat(fd)
            if ours:
                _check_ours(here, st, me)
                if created and not last:
                    os.fchmod(fd, parent_mode)  # the umask filtered mkdir's mode
            else:
                _check_ancestor(here, st, me)
        if gid is not None and os.fstat(fd).st_gid != gid:
            os.fchown(fd, -1, gid)
        os.fchmod(fd, mode)  # mkdir's mode is filtered by the umask
    finally:
        os.close(fd)


def check_socket_slot(path: Path) -> bool:
    """Whether something is at ``path`` (in a directory already checked); UnsafePath unless
    it is a socket of ours, so a stale one may be removed and a live one probed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        raise UnsafePath(f"{path} exists and is not a socket; remove it or choose another --socket")
    if st.st_uid != os.getuid():
        raise UnsafePath(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}); "
            "remove it or choose another --socket"
        )
    return True


def _make(parent: int, name: str, mode: int) -> bool:
    try:
        os.mkdir(name, mode, dir_fd=parent)
    except FileExistsError:
        return False
    return True


def _open_dir(parent: int, name: str, here: Path, *, follow: bool) -> int:
    """Open ``name`` under ``parent``; a symlink is followed only where ``follow`` allows
    (an ancestor, whose link itself must then belong to root or us)."""
    st = os.lstat(name, dir_fd=parent)
    if stat.S_ISLNK(st.st_mode):
        if not follow:
            raise UnsafePath(
                f"{here} is a symlink; signerd does not follow symlinks for its own "
                "directories: remove it (or point --socket / --data-dir at a real directory)"
            )
        if st.st_uid not in (0, os.getuid()):
            raise UnsafePath(f"{here} is a symlink owned by uid {st.st_uid}; remove it")
    try:
        return os.open(name, _DIR_FLAGS | (0 if follow else os.O_NOFOLLOW), dir_fd=parent)
    except NotADirectoryError:
        raise UnsafePath(f"{here} is not a directory; remove it") from None


def _check_ours(here: Path, st: os.stat_result, me: int) -> None:
    if st.st_uid != me:
        raise UnsafePath(
            f"{here} belongs to uid {st.st_uid}, not to you (uid {me}): another user may "
            "control it. Remove it, or set XDG_RUNTIME_DIR / --socket / --data-dir to a "
            "directory of yours"
        )
    if st.st_mode & 0o022:
        raise UnsafePath(
            f"{here} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod go-w {here}`"
        )


def _check_ancestor(here: Path, st: os.stat_result, me: int) -> None:
    if st.st_uid not in (0, me):
        raise UnsafePath(
            f"{here} belongs to uid {st.st_uid}, neither root nor you: it could replace what "
            "lies below. Choose a --socket / --data-dir elsewhere"
        )
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise UnsafePath(
            f"{here} is writable by group or others and not sticky (mode "
            f"{stat.S_IMODE(st.st_mode):o}): others could replace what lies below. "
            f"Run `chmod go-w {here}` or choose a --socket / --data-dir elsewhere"
        )


def trusted_file(path: Path) -> Path:
    """The real path of ``path`` once nobody but root or us can change what it holds: the
    file and every directory above it belong to root or us, none writable by group or others
    (a sticky directory may be, as /tmp is). UnsafePath otherwise. For the files the daemon
    takes orders from (its config: which uids it serves) and the relayer's key."""
    real = Path(os.path.realpath(path))
    me = os.getuid()
    for here in reversed(real.parents):
        _check_ancestor(here, os.stat(here), me)
    st = os.stat(real)
    if st.st_uid not in (0, me):
        raise UnsafePath(f"{real} belongs to uid {st.st_uid}, neither root nor you")
    if st.st_mode & 0o022:
        raise UnsafePath(
            f"{real} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod go-w {real}`"
        )
    return real
