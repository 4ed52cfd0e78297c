"""How the CLI shows things, without click: emphasis only on a terminal, times a person
can read, and the account list as a table or as JSON.

The full CLI and the fast path in ``sigilforge.entry`` both print ``list-accounts``
through here, so its output is the same whichever way the command ran. Accounts come as
plain values, the shape of ``Account.to_dict()``: the fast path never imports the model.

Emphasis (bold) is used only when the stream is a terminal and ``NO_COLOR`` is unset
(https://no-color.org): piped into a file or a script, output has no escape codes.

"Never" is shown one way per surface: ``never`` in tables, ``null`` in ``--json``, ``0``
on D-Bus (which has no null; see the README).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every run
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, TextIO

__all__ = ["NEVER", "emphasis", "expiry", "print_accounts", "relative"]

NEVER = "never"
# ANSI bold and reset, as click.style(text, bold=True) writes them.
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"
_COLUMNS = ("SERVICE", "ACCOUNT", "KIND", "STATUS", "EXPIRES", "SCOPES")


def _styled(stream: TextIO) -> bool:
    return "NO_COLOR" not in os.environ and stream.isatty()


def emphasis(text: str, *, stream: TextIO | None = None) -> str:
    return f"{_BOLD}{text}{_RESET}" if _styled(stream or sys.stdout) else text


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


def print_accounts(accounts: Sequence[Mapping[str, Any]], *, as_json: bool) -> None:
    """``list-accounts``: one JSON array, or a table (``no accounts`` on stderr if none)."""
    if as_json:
        import json  # here: the table, what people run, does without it

        _out(json.dumps(list(accounts), indent=2))
        return
    if not accounts:
        print("no accounts", file=sys.stderr, flush=True)
        return
    now = time.time()
    rows = [_COLUMNS, *(_row(a, now) for a in accounts)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS) - 1)]
    lines = []
    for index, r in enumerate(rows):
        line = "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
        # Padding is computed on the plain text, so emphasis cannot skew the columns.
        lines.append(emphasis(line.rstrip()) if index == 0 else line.rstrip())
    _out("\n".join(lines))


def _row(a: Mapping[str, Any], now: float) -> tuple[str, ...]:
    expires = expiry(a["expires_at"], now=now)
    return (a["service"], a["account"], a["kind"], a["status"], expires, " ".join(a["scopes"]))


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
