"""The notice that the CLI runs the broker in-process: said once a day, not on every
command (a script calling ``get-token`` in a loop would drown its own output).

A stamp file in the state dir remembers when it was last said; ``-v`` says it every time.
"""

from __future__ import annotations

import os
import time

from sigilforge import paths

__all__ = ["notice_due"]

_EVERY = 24 * 3600.0


def notice_due(now: float | None = None) -> bool:
    """True if the notice was not given in the last day; stamps it as given."""
    now = time.time() if now is None else now
    stamp = paths.state_dir() / "in-process-notice"
    try:
        if now - stamp.stat().st_mtime < _EVERY:
            return False
    except OSError:
        pass
    try:
        paths.ensure_private_dir(stamp.parent)
        fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        os.utime(stamp, (now, now))
    except OSError:
        pass  # a read-only home: say it every time rather than never
    return True
