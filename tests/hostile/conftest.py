"""Shared by every hostile test module (token safety and recovery): the recorder.

``hostile_record(category, case, cases, passed, figures="")`` adds one row to the table
``make hostile`` prints (``sigilforge.testing.hostile_report``); size loops with
``hostile_report.count(short, long)``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing import hostile_report
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.hostile_report import Recorder


@pytest.fixture
def hostile_record() -> Recorder:
    def record(category: str, case: str, cases: int, passed: int, figures: str = "") -> None:
        hostile_report.record(hostile_report.Row(category, case, cases, passed, figures))

    return record


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[BrokerRig]:
    """A private session with the broker activatable on it (no fault point set)."""
    with BrokerRig(tmp_path / "rig") as mine:
        yield mine
