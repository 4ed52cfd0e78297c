"""The session the daemon asks for at start (``store.read_ahead``), on real keyrings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sigilforge.errors import StoreUnavailable
from sigilforge.store import SecretKey, SecretKind, read_ahead
from sigilforge.store.secret_service import SecretServiceStore
from sigilforge.testing.home import Home, Isolated

KEY = SecretKey("openai", "work", SecretKind.API_KEY)


@pytest.fixture(autouse=True)
def _nothing_left_ahead() -> Iterator[None]:
    yield
    read_ahead.discard()


def test_the_next_store_reads_through_the_session_asked_for_ahead(home: Home) -> None:
    writer = SecretServiceStore()
    writer.set(KEY, "sk-ahead")
    read_ahead.start()
    store = SecretServiceStore()
    assert read_ahead.claim() is None, "the store took it"
    assert store.get(KEY) == "sk-ahead"
    assert SecretServiceStore().get(KEY) == "sk-ahead"  # a later store opens its own
    for s in (writer, store):
        s.close()


def test_an_unclaimed_read_ahead_is_closed_and_not_handed_out(home: Home) -> None:
    read_ahead.start()
    read_ahead.discard()
    assert read_ahead.claim() is None


def test_a_keyring_restarted_after_the_read_ahead_is_reconnected_to(
    fresh_keyring: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", fresh_keyring.bus.address)
    assert fresh_keyring.keyring is not None
    SecretServiceStore().set(KEY, "sk-kept")
    read_ahead.start()
    store = SecretServiceStore()
    # Its session was opened by the keyring that is now gone.
    fresh_keyring.keyring.start(replace=True)
    assert store.get(KEY) == "sk-kept"


def test_no_secret_service_behind_the_read_ahead_is_named_by_the_store(
    bare_bus: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bare_bus.bus.address)
    read_ahead.start()
    with pytest.raises(StoreUnavailable, match="no Secret Service on the session bus"):
        SecretServiceStore().get(KEY)


def test_no_bus_at_all_leaves_no_read_ahead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/nothing")
    read_ahead.start()
    assert read_ahead.claim() is None
    with pytest.raises(StoreUnavailable, match="no D-Bus session bus"):
        SecretServiceStore().get(KEY)
