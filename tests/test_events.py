"""The event hub every listener (the D-Bus signals, a library user) hangs on."""

from __future__ import annotations

import pytest

from sigilforge.events import AccountAdded, AccountRemoved, Event, EventHub
from sigilforge.testing.marker import MARKER


def test_a_failing_listener_is_logged_without_the_secret_it_saw(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = EventHub()
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError(f"leaked {MARKER}")

    hub.subscribe(broken)
    hub.subscribe(seen.append)
    with caplog.at_level("DEBUG"):
        hub.emit(AccountAdded("openai", "work"))
    assert seen == [AccountAdded("openai", "work")], "the other listener still ran"
    assert "RuntimeError" in caplog.text
    assert MARKER not in caplog.text


def test_an_unsubscribed_listener_hears_nothing_more() -> None:
    hub = EventHub()
    seen: list[Event] = []
    unsubscribe = hub.subscribe(seen.append)
    hub.emit(AccountAdded("openai", "work"))
    unsubscribe()
    unsubscribe()  # twice is harmless
    hub.emit(AccountRemoved("openai", "work"))
    assert seen == [AccountAdded("openai", "work")]
