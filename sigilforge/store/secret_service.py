"""The freedesktop Secret Service API (gnome-keyring, KeePassXC, KWallet >= 5.97, ...).

One connection and one encrypted session are opened lazily and kept for the life of the
store; every call on it is bounded by ``timeout`` so a missing or wedged service becomes
``StoreUnavailable`` in seconds, and a locked collection is ``StoreLocked``, never "not
found". Items carry ``xdg:schema=org.sigilforge.Token1`` plus service/account/kind
attributes, so ``secret-tool search xdg:schema org.sigilforge.Token1`` lists them.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import secretstorage
from secretstorage.exceptions import (
    ItemNotFoundException,
    LockedException,
    SecretServiceNotAvailableException,
    SecretStorageException,
)
from secretstorage.util import open_session

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.store.base import SecretKey

__all__ = ["SecretServiceStore"]

T = TypeVar("T")

_LOCKED_HINT = "the Secret Service collection is locked; unlock your keyring and retry"


class SecretServiceStore:
    name = "secret-service"

    def __init__(self, *, timeout: float = 2.0) -> None:
        self._timeout = timeout
        # A jeepney blocking connection is not thread-safe; the daemon calls us from a pool.
        self._lock = threading.RLock()
        self._connection: Any = None
        self._collection: Any = None

    def _open(self) -> Any:
        if self._collection is not None:
            return self._collection
        try:
            connection = secretstorage.dbus_init()
        except SecretServiceNotAvailableException:
            raise StoreUnavailable("no D-Bus session bus, so no Secret Service") from None
        # secretstorage has no per-call time limit; binding one into the connection bounds
        # every call it makes, including the ones buried in its helpers.
        connection.send_and_get_reply = functools.partial(
            type(connection).send_and_get_reply, connection, timeout=self._timeout
        )
        try:
            collection = secretstorage.Collection(connection)
            # One encrypted session for every item we read, not a key exchange per item.
            collection.session = open_session(connection)
        except BaseException:
            connection.close()
            raise
        self._connection, self._collection = connection, collection
        return collection

    def _reset(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
        self._connection = self._collection = None

    def _call(self, op: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                collection = self._open()
                if collection.is_locked():
                    raise StoreLocked(_LOCKED_HINT)
                return op(collection)
            except LockedException:
                raise StoreLocked(_LOCKED_HINT) from None
            except ItemNotFoundException:
                self._reset()
                raise StoreUnavailable(
                    "the Secret Service has no default collection (is a keyring set up?)"
                ) from None
            except (SecretServiceNotAvailableException, TimeoutError):
                self._reset()
                raise StoreUnavailable(
                    f"no Secret Service answered within {self._timeout:g} s"
                ) from None
            except (SecretStorageException, OSError) as exc:
                self._reset()
                raise StoreUnavailable(f"Secret Service failed: {type(exc).__name__}") from None

    def get(self, key: SecretKey) -> str | None:
        def op(collection: Any) -> str | None:
            for item in collection.search_items(key.attributes()):
                try:
                    return bytes(item.get_secret()).decode("utf-8")
                except ItemNotFoundException:
                    continue  # deleted between search and read: look at the next one
            return None

        return self._call(op)

    def set(self, key: SecretKey, value: str) -> None:
        def op(collection: Any) -> None:
            # replace=True swaps the item with the same attributes in one step.
            collection.create_item(
                key.label(), key.attributes(), value.encode("utf-8"), replace=True
            )

        self._call(op)

    def delete(self, key: SecretKey) -> bool:
        def op(collection: Any) -> bool:
            found = False
            for item in list(collection.search_items(key.attributes())):
                try:
                    item.delete()
                    found = True
                except ItemNotFoundException:
                    pass
            return found

        return self._call(op)

    def close(self) -> None:
        with self._lock:
            self._reset()
