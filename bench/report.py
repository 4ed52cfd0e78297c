"""The figures, their targets (issue 11), and the one table ``make bench`` prints.

A figure holds one (Sigilforge, peer) pair per run; its ratio is Sigilforge / peer, shown
as the median with its range over the runs, and it PASSes only if every run meets the
target.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """``ratio <= limit`` (``at_least`` False) or ``ratio >= limit``; None: shown only."""

    limit: float | None
    at_least: bool = False

    def met(self, ratio: float) -> bool:
        if self.limit is None:
            return True
        return ratio >= self.limit if self.at_least else ratio <= self.limit

    def text(self) -> str:
        if self.limit is None:
            return ""
        return f"{'>=' if self.at_least else '<='} {self.limit:g}"


@dataclass
class Figure:
    name: str
    unit: str
    target: Target
    # False: no peer; the "ratio" column then holds Sigilforge's own value (e.g. MB grown).
    has_peer: bool = True
    ours: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)

    def add(self, ours: float, peer: float | None = None) -> None:
        self.ours.append(ours)
        if peer is not None:
            self.peer.append(peer)

    def ratios(self) -> list[float]:
        if not self.has_peer:
            return list(self.ours)
        return [o / p for o, p in zip(self.ours, self.peer, strict=True)]

    def passed(self) -> bool:
        return all(self.target.met(r) for r in self.ratios())


def _value(values: list[float], unit: str) -> str:
    if not values:
        return ""
    v = statistics.median(values)
    text = f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
    return f"{text}{unit}" if unit == "x" else f"{text} {unit}"


def table(figures: list[Figure], runs: int) -> str:
    head = ("figure", "Sigilforge", "peer", f"ratio, median [range] of {runs}", "target", "")
    rows = [head]
    for f in figures:
        ratios = f.ratios()
        if not ratios:
            continue
        mid = statistics.median(ratios)
        spread = f"{mid:.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
        verdict = "" if f.target.limit is None else ("PASS" if f.passed() else "MISS")
        rows.append(
            (
                f.name,
                _value(f.ours, f.unit),
                _value(f.peer, f.unit),
                spread,
                f.target.text(),
                verdict,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
