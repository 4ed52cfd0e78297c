"""The proactive refresh timer on its own (a scripted source): its first look waits,
an added OAuth account cuts the wait short (an API key does not: a look goes over every
account), and stopping it never waits for the first look."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sigilforge.events import AccountAdded, AccountRemoved, EventHub, Listener
from sigilforge.refresh_timer import start_refresh_timer


class Source:
    def __init__(self) -> None:
        self.events = EventHub()
        self.looked = threading.Event()
        self.looks = 0
        self.oauth = {("github", "someone")}

    def next_refresh_at(self) -> float | None:
        return None

    def refresh_due(self) -> list[tuple[str, str]]:
        self.looks += 1
        self.looked.set()
        return []

    def refreshes(self, service: str, account: str) -> bool:
        return (service, account) in self.oauth

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.events.subscribe(listener)


def test_the_first_look_waits_until_an_account_is_added() -> None:
    source = Source()
    stop = start_refresh_timer(source, max_sleep=60.0, first_after=60.0)
    try:
        source.events.emit(AccountRemoved("github", "someone"))  # not a reason to look
        source.events.emit(AccountAdded("openai", "work"))  # an API key: nor is this
        assert not source.looked.wait(0.2)
        assert source.looks == 0
        source.events.emit(AccountAdded("github", "someone"))
        assert source.looked.wait(10)
    finally:
        stop()


def test_stopping_during_the_first_wait_ends_the_thread() -> None:
    source = Source()
    before = set(threading.enumerate())
    stop = start_refresh_timer(source, max_sleep=60.0, first_after=60.0)
    (thread,) = {t for t in set(threading.enumerate()) - before if t.name == "sigilforge-refresh"}
    stop()
    assert not thread.is_alive()
    assert source.looks == 0


def test_without_a_first_wait_it_looks_at_once() -> None:
    source = Source()
    stop = start_refresh_timer(source, max_sleep=60.0)
    try:
        assert source.looked.wait(10)
    finally:
        stop()
