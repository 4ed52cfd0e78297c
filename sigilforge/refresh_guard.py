"""What guards a refresh from "request sent" to "new token set saved and read back".

Inside that window the provider may already have rotated the refresh token, so the only
live copy is in this process's memory (DESIGN 4 and 5):

- ``deferred_signals()``: SIGTERM, SIGINT and SIGHUP that arrive inside are held and
  delivered when the block ends, with their usual effect (exit, ``KeyboardInterrupt``).
  ``TokenManager`` uses it around every refresh. It takes effect when the refresh runs
  in the main thread (the CLI, most embedders); a program that refreshes in other
  threads calls ``install()`` once from its main thread. The daemon runs each refresh in
  a child process's main thread (``isolated_refresh``), so the deferral applies there and
  a kill of the daemon itself loses nothing.
- ``InFlight``: a marker file beside the account's refresh lock while a refresh is in
  flight (a pid and a time, never a secret). What no process can defer (SIGKILL, power
  loss) leaves it behind; the next process that finds it verifies the stored refresh
  token, so a loss is reported, never silent.
- ``fault_pause(point)``: with ``SIGILFORGE_FAULT_PAUSE=<point>`` and
  ``SIGILFORGE_FAULT_READY=<file>``, the process writes the file when it reaches that
  point and waits (up to 30 s) until the file is removed: a test signals or kills it
  exactly between the server's answer and the save. Points: ``after-rotate``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

__all__ = ["InFlight", "deferred_signals", "fault_pause", "install"]

DEFERRED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_state = threading.Lock()
_depth = 0
_held: list[int] = []
_previous: dict[int, object] = {}


def _hold(signum: int, frame: FrameType | None) -> None:
    with _state:
        if _depth > 0:
            _held.append(signum)
            return
    _deliver(signum, frame)


def _deliver(signum: int, frame: FrameType | None) -> None:
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        # The usual exit: die of the signal itself, as if it had never been caught.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install() -> None:
    """Route the deferred signals through the guard for good (main thread only); the
    handlers found are what a signal does outside a refresh."""
    for signum in DEFERRED:
        current = signal.getsignal(signum)
        if current is not _hold:
            _previous[signum] = current
            signal.signal(signum, _hold)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGTERM/SIGINT/SIGHUP for the block; deliver them after it."""
    global _depth
    swapped = False
    if threading.current_thread() is threading.main_thread():
        swapped = any(signal.getsignal(s) is not _hold for s in DEFERRED)
        saved = {s: signal.getsignal(s) for s in DEFERRED}
        if swapped:
            install()
    with _state:
        _depth += 1
    try:
        yield
    finally:
        with _state:
            _depth -= 1
            held = list(_held) if _depth == 0 else []
            if _depth == 0:
                _held.clear()
        if swapped:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


class InFlight:
    """The marker of a refresh in flight for one account (beside its lock)."""

    def __init__(self, lock_path: Path) -> None:
        self.path = lock_path.with_suffix(".inflight")

    def exists(self) -> bool:
        return self.path.exists()

    def set(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"pid={os.getpid()} since={int(time.time())}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def fault_pause(point: str) -> None:
    if os.environ.get("SIGILFORGE_FAULT_PAUSE") != point:
        return
    ready = os.environ.get("SIGILFORGE_FAULT_READY")
    if not ready:
        return
    Path(ready).write_text(f"{point} {os.getpid()}\n")
    deadline = time.monotonic() + 30
    while Path(ready).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
