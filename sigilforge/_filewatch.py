"""A file's version that costs a poll, not a ``stat``, while nothing changes.

A long-lived reader (the daemon, answering cached tokens on its event loop) must notice
any change to ``accounts.json``, by any process, before its next answer; a ``stat`` per
call did that at a third of a cached call's cost. ``WatchedVersion`` asks the kernel
instead: an inotify watch on the file's directory (and on the file itself) queues an event
inside the very system call that changes it, so a change another process finished before
it, or anyone else, sent us a call is in the queue before the call reaches us, and the
next check sees it. The version handed out is the ``read()`` (the stat) taken after the
last event; with the queue empty it is what a new stat would say.

Where the kernel cannot tell, every check reads, as before: no inotify, the watch limit
reached, a directory that does not exist yet (a watch is tried again at most every
``RECHECK``). Changes it never reports (a network file system written from another
machine, a directory above ours replaced) are still seen within ``RECHECK`` seconds,
which is what the attribute cache of such a file system allows a ``stat`` anyway.

A caller that answers many requests in a burst (the daemon, one socket read at a time)
need not ask the kernel per request: ``peek`` gives the version as last read, with no
system call, and its ``epoch``; once every request of the burst has been received,
one ``unchanged_since(epoch)`` (one poll) says whether the answers made from it may go
out: the kernel queued any change finished before a request was sent ahead of it, so a
change none of the burst's answers saw is in the queue by then.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["RECHECK", "WatchedVersion"]

V = TypeVar("V")

# Seconds after which the version is read again even if the kernel said nothing.
RECHECK = 1.0

# <sys/inotify.h>
_IN_MODIFY = 0x2
_IN_ATTRIB = 0x4
_IN_CLOSE_WRITE = 0x8
_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_UNMOUNT = 0x2000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_CONTENTS = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE
_DIR_MASK = (
    _CONTENTS
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
# The directory watch is gone, or follows a directory that is no longer at the path.
_DIR_LOST = _IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT
_EVENT = struct.Struct("iIII")
_monotonic = time.monotonic  # wd, mask, cookie, len; then len bytes of name


class _Inotify:
    """The three calls, from libc; ``None`` from ``open`` where there is no inotify."""

    def __init__(self, fd: int, add: Callable[..., int], rm: Callable[..., int]) -> None:
        self.fd = fd
        self._add = add
        self._rm = rm

    @classmethod
    def open(cls) -> _Inotify | None:
        try:
            import ctypes  # the daemon has it loaded already (hardening)

            libc = ctypes.CDLL(None, use_errno=True)
            init, add, rm = libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch
        except (OSError, AttributeError):
            return None
        add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        rm.argtypes = [ctypes.c_int, ctypes.c_int]
        fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
        return None if fd < 0 else cls(fd, add, rm)

    def add(self, path: Path, mask: int) -> int:
        """The watch descriptor, or -1 (no such directory, no watches left)."""
        return int(self._add(self.fd, os.fsencode(path), mask))

    def rm(self, wd: int) -> None:
        self._rm(self.fd, wd)


class WatchedVersion(Generic[V]):
    """``read()`` of ``path``, read again only after the kernel reports a change in the
    path's directory or to the file (or ``RECHECK`` seconds passed). Thread-safe."""

    def __init__(self, path: Path, read: Callable[[], V]) -> None:
        self._path = path
        self._read = read
        self._lock = threading.Lock()
        self._inotify = _Inotify.open()
        self._poll = select.poll()
        if self._inotify is not None:
            self._poll.register(self._inotify.fd, select.POLLIN)
            weakref.finalize(self, os.close, self._inotify.fd)
        self._dir_wd = -1
        self._tried_at = -RECHECK
        # (version, epoch, when read), replaced whole so ``peek`` reads it without the
        # lock. The epoch grows whenever the version may have changed.
        self._state: tuple[V, int, float] | None = None

    def __call__(self) -> V:
        with self._lock:
            now = _monotonic()
            state = self._state
            if (
                state is not None
                and self._dir_wd >= 0
                and now - state[2] < RECHECK
                and not self._poll.poll(0)
            ):
                return state[0]
            return self._reread(now)[0]

    def peek(self) -> tuple[V, int]:
        """The version as last read and its epoch, without a system call while the watch
        holds: an answer made from it may go out only once ``unchanged_since(epoch)``,
        asked after its request was received, says True. Without a watch, or after
        ``RECHECK`` seconds, it reads first, as a call does."""
        state = self._state
        if state is not None and self._dir_wd >= 0 and _monotonic() - state[2] < RECHECK:
            return state[0], state[1]
        with self._lock:
            state = self._reread(_monotonic())
            return state[0], state[1]

    def unchanged_since(self, epoch: int) -> bool:
        """Whether the version ``peek`` gave with ``epoch`` is still the file's (one poll).
        False when anything changed since, however small: the next ``peek`` reads again."""
        with self._lock:
            state = self._state
            if state is None or state[1] != epoch:
                return False
            if self._dir_wd < 0 or not self._poll.poll(0):
                # Without a watch each peek read the file itself (and a new version
                # moved the epoch on).
                return True
            self._reread(_monotonic())
            return False

    def _reread(self, now: float) -> tuple[V, int, float]:
        # Events first, then the read: a change after the read queues a new event.
        changed = self._drain()
        self._watch(now)
        version = self._read()
        state = self._state
        epoch = 0
        if state is not None:
            epoch = state[1] + 1 if changed or version != state[0] else state[1]
        self._state = state = (version, epoch, now)
        return state

    def _drain(self) -> bool:
        """Reads the queued events; whether there were any."""
        inotify = self._inotify
        if inotify is None:
            return False
        try:
            data = os.read(inotify.fd, 64 * 1024)
        except BlockingIOError:
            return False
        # What is left (more than fits) keeps the queue readable: the next call reads again.
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size + length
            if wd == self._dir_wd and mask & _DIR_LOST:
                # Watch the directory now at the path, if any (``_watch``).
                with contextlib.suppress(OSError):
                    inotify.rm(wd)
                self._dir_wd = -1
                self._tried_at = -RECHECK
        return True

    def _watch(self, now: float) -> None:
        inotify = self._inotify
        if inotify is None:
            return
        if self._dir_wd < 0 and now - self._tried_at >= RECHECK:
            self._tried_at = now
            self._dir_wd = inotify.add(self._path.parent, _DIR_MASK)
        if self._dir_wd >= 0:
            # The file as it is now (each atomic write is a new one): a write through a
            # hard link elsewhere reaches no directory of ours. Missing is fine: the
            # directory watch reports its creation.
            inotify.add(self._path, _CONTENTS)
