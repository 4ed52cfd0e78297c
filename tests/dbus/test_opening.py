"""The daemon's broker when opening fails first (a typo in config.toml), then works."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from sigilforge.accounts import AccountStore
from sigilforge.broker import Broker
from sigilforge.dbus.opening import OpeningBroker
from sigilforge.errors import InvalidArgument
from sigilforge.events import AccountAdded, Event
from sigilforge.model import AddOptions
from sigilforge.store.memory import MemoryStore


def test_calls_get_the_opening_error_until_it_opens_then_events_flow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = [True]
    started: list[Broker] = []
    stopped: list[Broker] = []

    def open_broker() -> Broker:
        if broken[0]:
            raise InvalidArgument("config.toml: Invalid value (at line 1, column 9)")
        return Broker(
            accounts=AccountStore(tmp_path / "accounts.json"),
            secrets=MemoryStore(),
            lock_dir=tmp_path / "locks",
        )

    def on_open(broker: Broker) -> Callable[[], None]:
        started.append(broker)
        return lambda: stopped.append(broker)

    opening = OpeningBroker(open_broker, on_open)
    seen: list[Event] = []
    opening.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="sigilforge.dbus.opening"):
        for _ in range(5):
            with pytest.raises(InvalidArgument, match=r"config\.toml"):
                opening.list_accounts()
    assert len(caplog.records) == 1, "logged once, not once per call"
    assert opening.cached_token("openai", "work") is None
    assert started == []

    broken[0] = False
    opening.add_account("openai", "work", AddOptions(api_key="sk-x")).result()
    assert seen == [AccountAdded("openai", "work")]
    assert len(started) == 1
    assert opening.get_token("openai", "work").token == "sk-x"
    opening.close()
    assert stopped == started
