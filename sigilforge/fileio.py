"""How Sigilforge opens and writes its own files, whatever is put in their place.

- ``read_regular``: only a regular file is read. The open never blocks and never follows
  a symlink (``O_NONBLOCK | O_NOFOLLOW``, then ``fstat``), so a FIFO or a device put where
  a file belongs is an ``UnsafeFile`` at once, not a hang.
- ``write_atomic``: temp file, explicit mode, fsync, rename, fsync of the directory; the
  mode never depends on the umask.
- ``append_private``: a 0600 log that is never reached through a symlink.
- ``make_dirs``: directories created with an explicit mode (``mkdir`` alone obeys the umask).
- ``repair_unsafe_dir``: a directory of ours writable by group or others is a way for
  someone else to swap our files; it is made ``go-w`` with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from pathlib import Path

__all__ = [
    "UnsafeFile",
    "append_private",
    "make_dirs",
    "read_regular",
    "repair_unsafe_dir",
    "write_atomic",
]

log = logging.getLogger(__name__)

_KINDS = (
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


class UnsafeFile(Exception):
    """Something other than a regular file is where one of our files belongs."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path.name} is {kind}, not a regular file; refused")
        self.path = path
        self.kind = kind


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse(path: Path) -> UnsafeFile:
    try:
        return UnsafeFile(path, _kind(os.lstat(path).st_mode))
    except OSError:
        return UnsafeFile(path, "not a regular file")


def read_regular(path: Path, *, follow_symlinks: bool = False) -> bytes | None:
    """The file's bytes; None if there is no file. ``UnsafeFile`` for anything else.

    ``follow_symlinks`` is for files we only read and users may keep elsewhere (a
    ``config.toml`` linked from a dotfiles repository); what it leads to must still be a
    regular file. A file we also write is never reached through a symlink."""
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = _open_regular(path, flags)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _open_regular(path: Path, flags: int, mode: int = 0o600) -> int:
    """A descriptor on ``path`` if it is a regular file, else ``UnsafeFile``. Opened
    without blocking, so a FIFO in its place is refused instead of hanging the caller."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        # ELOOP: the last component is a symlink (O_NOFOLLOW); ENXIO: a FIFO, write side.
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise _refuse(path) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafeFile(path, _kind(st.st_mode))
    return fd


def make_dirs(path: Path, mode: int = 0o700) -> None:
    """``mkdir -p`` where every directory created gets ``mode`` exactly."""
    if path.is_dir():
        return
    make_dirs(path.parent, mode)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, mode)
        os.chmod(path, mode)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, dir_mode: int = 0o700) -> None:
    """Replace ``path`` with ``data`` in one step (a reader sees the old or the new file)."""
    make_dirs(path.parent, dir_mode)
    # Here, not at the top: tempfile brings shutil, random and the compression modules,
    # which a daemon that only reads its files would carry for nothing.
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def append_private(path: Path, text: str) -> None:
    """Append to a 0600 file, never through a symlink and never to a FIFO."""
    make_dirs(path.parent, 0o700)
    fd = _open_regular(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW)
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def repair_unsafe_dir(path: Path) -> None:
    """Make ``path`` not writable by group or others, with a warning, if it was."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o022 or st.st_uid != os.getuid():
        return
    safe = mode & ~0o022
    try:
        os.chmod(path, safe)
    except OSError as exc:
        log.warning("%s is writable by others (mode %04o) and cannot be fixed: %s", path, mode, exc)
        return
    log.warning("%s was writable by others (mode %04o); made it %04o", path, mode, safe)
