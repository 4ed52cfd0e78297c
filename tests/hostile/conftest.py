"""Shared by every hostile test module (token safety and recovery): the recorder.

``hostile_record(category, case, cases, passed, figures="")`` adds one row to the table
``make hostile`` prints (``sigilforge.testing.hostile_report``); size loops with
``hostile_report.count(short, long)``."""

from __future__ import annotations

import pytest

from sigilforge.testing import hostile_report
from sigilforge.testing.hostile_report import Recorder


@pytest.fixture
def hostile_record() -> Recorder:
    def record(category: str, case: str, cases: int, passed: int, figures: str = "") -> None:
        hostile_report.record(hostile_report.Row(category, case, cases, passed, figures))

    return record
