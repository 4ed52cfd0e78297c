"""One contract, every backend: what the broker relies on from a secret store."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.store import SecretKey, SecretKind, SecretStore
from sigilforge.store.keyring import KeyringStore
from sigilforge.store.memory import MemoryStore
from sigilforge.store.secret_service import SecretServiceStore
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER


def _keyring_on_secret_service() -> KeyringStore:
    # keyring's own Secret Service backend, talking to the test's gnome-keyring: a real
    # keyring backend without a second keyring daemon.
    from keyring.backends.SecretService import Keyring

    return KeyringStore(Keyring())


BACKENDS = {
    "memory": MemoryStore,
    "secret-service": SecretServiceStore,
    "keyring": _keyring_on_secret_service,
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, home: Home) -> Iterator[SecretStore]:
    backend = BACKENDS[request.param]()
    yield backend
    backend.close()


KEY = SecretKey("openai", "work", SecretKind.API_KEY)


def test_missing_secret_reads_as_none(store: SecretStore) -> None:
    assert store.get(KEY) is None


def test_set_then_get_returns_the_value(store: SecretStore) -> None:
    store.set(KEY, f"sk-{MARKER}")
    assert store.get(KEY) == f"sk-{MARKER}"


def test_set_replaces_the_value(store: SecretStore) -> None:
    store.set(KEY, "first")
    store.set(KEY, "second")
    assert store.get(KEY) == "second"
    assert store.delete(KEY) is True
    assert store.get(KEY) is None, "replace must not leave the old item behind"


def test_delete_reports_whether_something_was_there(store: SecretStore) -> None:
    assert store.delete(KEY) is False
    store.set(KEY, "value")
    assert store.delete(KEY) is True
    assert store.get(KEY) is None


def test_service_account_and_kind_each_separate_secrets(store: SecretStore) -> None:
    keys = [
        KEY,
        SecretKey("openai", "home", SecretKind.API_KEY),
        SecretKey("other", "work", SecretKind.API_KEY),
        SecretKey("openai", "work", SecretKind.TOKEN_SET),
    ]
    for i, key in enumerate(keys):
        store.set(key, f"value-{i}")
    assert [store.get(k) for k in keys] == [f"value-{i}" for i in range(len(keys))]
    store.delete(keys[0])
    assert [store.get(k) for k in keys[1:]] == ["value-1", "value-2", "value-3"]


def test_present_follows_sets_and_deletes(store: SecretStore) -> None:
    # Asked again and again on one store, as each ListAccounts does: what it remembers
    # between calls must never hide an added or a deleted secret.
    a, b, c = (SecretKey("openai", name, SecretKind.API_KEY) for name in ("a", "b", "c"))
    assert store.present([a, b, c]) == frozenset()
    store.set(a, "sk-a")
    store.set(b, "sk-b")
    assert store.present([a, b, c]) == {a, b}
    assert store.delete(a)
    assert store.present([a, b, c]) == {b}
    store.set(c, "sk-c")
    store.set(b, "sk-b2")
    assert store.present([a, b, c]) == {b, c}
    assert store.present([c]) == {c}


def test_unicode_and_long_values_survive(store: SecretStore) -> None:
    value = "ключ-🔑-" + "x" * 8000
    store.set(KEY, value)
    assert store.get(KEY) == value


def test_threads_may_share_one_store(store: SecretStore) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            key = SecretKey("threads", f"acct{n}", SecretKind.API_KEY)
            for i in range(5):
                store.set(key, f"{n}-{i}")
                assert store.get(key) == f"{n}-{i}"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors


def test_locked_memory_store_says_locked_not_missing() -> None:
    store = MemoryStore()
    store.set(KEY, "value")
    store.locked = True
    with pytest.raises(StoreLocked):
        store.get(KEY)
    store.locked = False
    assert store.get(KEY) == "value"


def test_secret_service_items_carry_the_schema(home: Home) -> None:
    import subprocess

    store = SecretServiceStore()
    store.set(KEY, f"sk-{MARKER}")
    found = subprocess.run(
        ["secret-tool", "search", "--all", "xdg:schema", "org.sigilforge.Token1"],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    text = found.stdout + found.stderr
    assert f"sk-{MARKER}" in text
    assert "attribute.service = openai" in text
    assert "attribute.kind = api_key" in text


def test_insecure_keyring_backend_is_refused() -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    with pytest.raises(StoreUnavailable):
        KeyringStore(FailKeyring())
