"""The Secret Service backend's failure modes, on real buses."""

from __future__ import annotations

import os
import time

import pytest

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.store import SecretKey, SecretKind, open_store
from sigilforge.store.secret_service import SecretServiceStore
from sigilforge.testing.home import Isolated

KEY = SecretKey("openai", "work", SecretKind.API_KEY)


def test_locked_collection_is_locked_not_missing(
    fresh_keyring: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", fresh_keyring.bus.address)
    store = SecretServiceStore()
    store.set(KEY, "sk-kept")
    assert fresh_keyring.keyring is not None
    fresh_keyring.keyring.lock()
    with pytest.raises(StoreLocked, match="locked"):
        store.get(KEY)
    with pytest.raises(StoreLocked):
        store.delete(KEY)
    with pytest.raises(StoreLocked):
        store.set(KEY, "sk-new")
    # A fresh connection sees the same, and the auto store does not fall back.
    with pytest.raises(StoreLocked):
        open_store("auto").get(KEY)


def test_no_secret_service_on_the_bus_is_unavailable_within_2s(
    bare_bus: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bare_bus.bus.address)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        SecretServiceStore().get(KEY)
    assert time.monotonic() - started < 2.0


def test_no_bus_at_all_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/nothing")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        SecretServiceStore().get(KEY)
    assert time.monotonic() - started < 2.0


def test_auto_store_never_falls_back_to_plaintext(
    bare_bus: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No Secret Service, and only keyring's fail/plaintext backends: the answer is an
    # error, never a file.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bare_bus.bus.address)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(StoreUnavailable):
        open_store("auto").set(KEY, "sk-nowhere")
    assert not any(
        "sk-nowhere" in p.read_text(errors="ignore") for p in _files(bare_bus.env["HOME"])
    )


def _files(root: str) -> list[os.PathLike[str]]:
    from pathlib import Path

    return [p for p in Path(root).rglob("*") if p.is_file()]
