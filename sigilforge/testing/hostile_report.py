"""The hostile suite's counts and its table (``make hostile``).

Tests under ``tests/hostile`` size their loops with ``count(short, long)``: the short
count runs in the normal suite, the long one when ``SIGILFORGE_HOSTILE_LONG=1``. Each
test records what it tried through the ``hostile_record`` fixture (one row: category,
case, cases tried, cases passed, figures). ``python -m sigilforge.testing.hostile_report
[PYTEST ARGS]`` runs ``tests/hostile`` with the long counts and prints the rows as a
table by category; its exit status is pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["LONG_ENV", "REPORT_ENV", "Recorder", "Row", "count", "long_run", "main", "record"]

LONG_ENV = "SIGILFORGE_HOSTILE_LONG"
REPORT_ENV = "SIGILFORGE_HOSTILE_REPORT"


# What the ``hostile_record`` fixture hands a test: record(category, case, cases, passed,
# figures="").
Recorder = Callable[..., None]


def long_run() -> bool:
    return os.environ.get(LONG_ENV, "") not in ("", "0")


def count(short: int, long: int) -> int:
    """``long`` under ``make hostile``, else ``short``."""
    return long if long_run() else short


@dataclass(frozen=True)
class Row:
    category: str
    case: str
    cases: int
    passed: int
    figures: str = ""


def record(row: Row) -> None:
    """Append ``row`` to the report file, if a report is being made."""
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(row)) + "\n")


def table(rows: list[Row]) -> str:
    head = ("category", "case", "cases", "passed", "figures")
    cells = [head] + [
        (r.category, r.case, str(r.cases), str(r.passed), r.figures)
        for r in sorted(rows, key=lambda r: (r.category, r.case))
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(4)) + "  " + c[4] for c in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sigilforge-hostile-") as tmp:
        report = Path(tmp) / "rows.jsonl"
        env = {**os.environ, LONG_ENV: "1", REPORT_ENV: str(report)}
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += ["-o", "timeout=3600", *(sys.argv[1:] or ["tests/hostile"])]
        code = subprocess.call(argv, env=env)
        rows = []
        if report.exists():
            rows = [Row(**json.loads(line)) for line in report.read_text().splitlines()]
        print()
        print(table(rows) if rows else "no rows were recorded")
    sys.exit(code)


if __name__ == "__main__":
    main()
