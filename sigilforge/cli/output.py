"""How the CLI shows things to a person: emphasis only on a terminal, times a person
can read.

Emphasis (bold) is used only when the stream is a terminal and ``NO_COLOR`` is unset
(https://no-color.org): piped into a file or a script, output has no escape codes.

"Never" is shown one way per surface: ``never`` in tables, ``null`` in ``--json``, ``0``
on D-Bus (which has no null; see the README).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

import click

__all__ = ["NEVER", "emphasis", "expiry", "relative"]

NEVER = "never"


def _styled(stream: TextIO) -> bool:
    return "NO_COLOR" not in os.environ and stream.isatty()


def emphasis(text: str, *, stream: TextIO | None = None) -> str:
    return click.style(text, bold=True) if _styled(stream or sys.stdout) else text


def relative(seconds: float) -> str:
    """``in 14 s``, ``in 3 min``, ``2 h ago``: the larger unit, rounded down."""
    ahead = seconds >= 0
    n = abs(int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if n >= size:
            text = f"{n // size} {unit}"
            break
    else:
        text = f"{n} s"
    return f"in {text}" if ahead else f"{text} ago"


def expiry(expires_at: int | None, *, now: float | None = None) -> str:
    """Local time with seconds and zone, and how far off: ``2026-11-30 18:47:12 CET
    (in 14 s)``; ``never`` for no expiry."""
    if not expires_at:
        return NEVER
    now = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(expires_at))
    return f"{stamp} ({relative(expires_at - now)})"
