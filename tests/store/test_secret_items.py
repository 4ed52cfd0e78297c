"""What the Secret Service store says is present follows other clients at once.

The store follows its items from the service's signals rather than searching them all
per listing (``secret_items``); these tests change the keyring behind its back with
clients we did not write (``secret-tool``, ``busctl``, gnome-keyring's own lock) and ask
on the very next call, with no wait in between.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge import AddOptions, Broker
from sigilforge.errors import StoreLocked
from sigilforge.store import SecretKey, SecretKind, secret_items
from sigilforge.store.base import SCHEMA
from sigilforge.store.secret_service import SecretServiceStore
from sigilforge.testing.env import isolated_env
from sigilforge.testing.home import Isolated
from sigilforge.testing.keyring import HeadlessKeyring

A, B, C = (SecretKey("openai", name, SecretKind.API_KEY) for name in ("a", "b", "c"))


@pytest.fixture
def keyring(fresh_keyring: Isolated, monkeypatch: pytest.MonkeyPatch) -> Isolated:
    for name, value in fresh_keyring.env.items():
        monkeypatch.setenv(name, value)
    return fresh_keyring


@pytest.fixture
def store(keyring: Isolated) -> Iterator[SecretServiceStore]:
    store = SecretServiceStore()
    yield store
    store.close()


def _secret_tool(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["secret-tool", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return done.stdout + done.stderr


def _store_item(env: dict[str, str], key: SecretKey, value: str) -> None:
    pairs = [part for pair in key.attributes().items() for part in pair]
    _secret_tool(env, "store", "--label", "added by another client", *pairs, stdin=value)


def _clear_item(env: dict[str, str], key: SecretKey) -> None:
    pairs = [part for pair in key.attributes().items() for part in pair]
    _secret_tool(env, "clear", *pairs)


def _item_path(env: dict[str, str], key: SecretKey) -> str:
    pairs = [part for pair in key.attributes().items() for part in pair]
    found = _secret_tool(env, "search", *pairs)
    # secret-tool names an item by its path within the collection (the rig's "login").
    (tail,) = [line.strip("[]") for line in found.splitlines() if line.startswith("[/")]
    return f"/org/freedesktop/secrets/collection/login{tail}"


def test_present_follows_other_clients_on_the_next_call(
    keyring: Isolated, store: SecretServiceStore
) -> None:
    assert keyring.keyring is not None
    store.set(A, "sk-a")
    store.set(B, "sk-b")
    assert store.present([A, B, C]) == {A, B}
    _clear_item(keyring.env, A)
    assert store.present([A, B, C]) == {B}
    _store_item(keyring.env, C, "sk-c")
    assert store.present([A, B, C]) == {B, C}
    keyring.keyring.lock()
    with pytest.raises(StoreLocked):
        store.present([A, B, C])
    keyring.keyring.unlock()
    assert store.present([A, B, C]) == {B, C}
    _secret_tool(keyring.env, "clear", "xdg:schema", SCHEMA)
    assert store.present([A, B, C]) == frozenset()


def test_an_item_whose_attributes_change_is_read_again(
    keyring: Isolated, store: SecretServiceStore
) -> None:
    store.set(A, "sk-a")
    assert store.present([A, B]) == {A}
    # Renamed by another client (Seahorse can; busctl is the one at hand): now it is B's.
    attributes = {**A.attributes(), **B.attributes()}
    subprocess.run(
        [
            "busctl",
            "--user",
            "set-property",
            "org.freedesktop.secrets",
            _item_path(keyring.env, A),
            "org.freedesktop.Secret.Item",
            "Attributes",
            "a{ss}",
            str(len(attributes)),
            *[part for pair in attributes.items() for part in pair],
        ],
        env=keyring.env,
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert store.present([A, B]) == {B}


def test_more_changes_than_the_queue_keeps_end_in_a_full_search(
    keyring: Isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_items, "_MAX_QUEUED", 2)
    store = SecretServiceStore()
    try:
        keys = [SecretKey("openai", f"n{i}", SecretKind.API_KEY) for i in range(5)]
        assert store.present(keys) == frozenset()
        for key in keys:
            _store_item(keyring.env, key, "sk")
        _clear_item(keyring.env, keys[0])
        assert store.present(keys) == set(keys[1:])
    finally:
        store.close()


def test_a_replaced_keyring_is_searched_afresh(
    keyring: Isolated, store: SecretServiceStore, tmp_path: Path
) -> None:
    assert keyring.keyring is not None
    store.set(A, "sk-a")
    assert store.present([A, B]) == {A}
    # Another gnome-keyring, with keyrings of its own (B only), takes over the bus name:
    # it never sent a signal about A, yet A is not there any more.
    other = isolated_env(tmp_path / "other")
    env = {**other, "DBUS_SESSION_BUS_ADDRESS": keyring.env["DBUS_SESSION_BUS_ADDRESS"]}
    keyring.keyring.stop()
    with HeadlessKeyring(env):
        _store_item(env, B, "sk-b")
        assert store.present([A, B]) == {B}


def test_list_accounts_status_follows_the_keyring(keyring: Isolated) -> None:
    assert keyring.keyring is not None
    with Broker.open() as broker:
        broker.add_account("openai", "work", AddOptions(api_key="sk-work")).result(5)
        broker.add_account("openai", "home", AddOptions(api_key="sk-home")).result(5)

        def statuses() -> dict[str, str]:
            return {a.account: a.status.value for a in broker.list_accounts()}

        assert statuses() == {"home": "ok", "work": "ok"}
        _secret_tool(keyring.env, "clear", "service", "openai", "account", "work")
        assert statuses() == {"home": "ok", "work": "secret_missing"}
        keyring.keyring.lock()
        assert statuses() == {"home": "locked", "work": "locked"}
        keyring.keyring.unlock()
        assert statuses() == {"home": "ok", "work": "secret_missing"}
        _store_item(keyring.env, SecretKey("openai", "work", SecretKind.API_KEY), "sk-again")
        assert statuses() == {"home": "ok", "work": "ok"}
