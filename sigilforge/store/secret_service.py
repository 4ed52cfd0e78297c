"""The freedesktop Secret Service API (gnome-keyring, KeePassXC, KWallet >= 5.97, ...).

Reads go over a lean connection of their own (``secret_read``), writes and listings
through secretstorage; each connection and its encrypted session is opened lazily and
kept while it works; every call on them is bounded by ``timeout`` so a wedged service becomes
``StoreUnavailable`` in seconds, a missing one at once (with what to start), and a locked
collection is ``StoreLocked``, never "not found". When the service behind a kept
connection went away (gnome-keyring restarted or ``--replace``d: its session and objects
are gone), the connection is dropped and the call tried once more on a fresh one, so the
first call after a restart already works. Items carry
``xdg:schema=org.sigilforge.Token1`` plus service/account/kind attributes, so
``secret-tool search xdg:schema org.sigilforge.Token1`` lists them.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.store import read_ahead
from sigilforge.store.aes import DecryptionError
from sigilforge.store.base import SecretKey
from sigilforge.store.bus import BusError
from sigilforge.store.secret_read import LOCKED, NO_SUCH_OBJECT, SecretReader

if TYPE_CHECKING:
    from sigilforge.store.secret_items import SecretItems

__all__ = ["SecretServiceStore"]

T = TypeVar("T")

_LOCKED_HINT = "the Secret Service collection is locked; unlock your keyring and retry"
_START_HINT = (
    "start gnome-keyring-daemon --components=secrets or KeePassXC's Secret Service "
    '(or set store = "keyring" in config.toml)'
)


# What secretstorage calls "the item does not exist": for us, no default collection.
_NOT_FOUND = {
    NO_SUCH_OBJECT,
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownMethod",
}


def _unavailable(exc: BaseException, timeout: float) -> StoreUnavailable:
    """The real reason, from the D-Bus error name behind the failure."""
    if isinstance(exc, TimeoutError):
        return StoreUnavailable(f"the Secret Service did not answer within {timeout:g} s")
    name = exc.name if isinstance(exc, BusError) else ""
    if name in _NOT_FOUND:
        return StoreUnavailable(
            "the Secret Service has no default collection (is a keyring set up?)"
        )
    if name == "org.freedesktop.DBus.Error.ServiceUnknown":
        return StoreUnavailable(f"no Secret Service on the session bus: {_START_HINT}")
    if name == "org.freedesktop.DBus.Error.NoReply":
        return StoreUnavailable("the Secret Service did not reply")
    if name:
        return StoreUnavailable(f"the Secret Service failed: {name}")
    return StoreUnavailable("the Secret Service failed the request")


def _as_bus_error(exc: BaseException) -> BusError | None:
    """secretstorage's and jeepney's failures as the ``BusError`` they stand for, so one
    retry-and-translate serves both connections; None for anything else."""
    if "secretstorage" not in sys.modules:
        return None  # then nothing raised could have come from it
    from jeepney.wrappers import DBusErrorResponse
    from secretstorage.exceptions import (
        ItemNotFoundException,
        LockedException,
        SecretStorageException,
    )

    if isinstance(exc, LockedException):
        return BusError(LOCKED)
    if isinstance(exc, DBusErrorResponse):
        return BusError(exc.name)
    if isinstance(exc, ItemNotFoundException):
        return BusError(NO_SUCH_OBJECT)
    if isinstance(exc, SecretStorageException):
        cause = exc.__cause__
        return BusError(cause.name if isinstance(cause, DBusErrorResponse) else "")
    return None


class SecretServiceStore:
    name = "secret-service"

    def __init__(self, *, timeout: float = 2.0) -> None:
        self._timeout = timeout
        # A blocking D-Bus connection is not thread-safe; the daemon calls us from a pool.
        self._lock = threading.RLock()
        # Reads (every cache miss, the first token of an activation) on a lean connection
        # of their own (``SecretReader``); writes and listings through secretstorage,
        # opened (and imported) only when one is first made. The reader may be the one
        # whose session the daemon asked for at start (``read_ahead``).
        self._reader: SecretReader | None = read_ahead.claim()
        self._connection: Any = None
        self._collection: Any = None
        # Our items on the kept connection, followed from its signals, for ``present``.
        self._items: SecretItems | None = None

    def _open(self) -> Any:
        if self._collection is not None:
            return self._collection
        import secretstorage
        from secretstorage.exceptions import SecretServiceNotAvailableException
        from secretstorage.util import open_session

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

    def _open_reader(self) -> SecretReader:
        if self._reader is None:
            try:
                self._reader = SecretReader(timeout=self._timeout)
            except OSError:
                # No address, a malformed one, or nothing listening there.
                raise StoreUnavailable("no D-Bus session bus, so no Secret Service") from None
        return self._reader

    def _reset(self) -> None:
        for connection in (self._connection, self._reader):
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.close()
        self._connection = self._collection = self._reader = None
        self._items = None  # item paths mean nothing on another connection

    def _retrying(self, attempt: Callable[[], T]) -> T:
        with self._lock:
            # A kept connection may lead to a service that has been restarted since:
            # one more try on a fresh connection tells that apart from a real failure.
            retry = self._collection is not None or self._reader is not None
            while True:
                try:
                    return attempt()
                except (BusError, OSError, TimeoutError, DecryptionError) as exc:
                    failure: BaseException = exc
                except Exception as exc:
                    converted = _as_bus_error(exc)
                    if converted is None:
                        raise
                    failure = converted
                self._reset()
                locked = isinstance(failure, BusError) and failure.name == LOCKED
                if locked:
                    raise StoreLocked(_LOCKED_HINT) from None
                if retry and not isinstance(failure, TimeoutError):
                    retry = False
                    continue
                raise _unavailable(failure, self._timeout) from None

    def _call(self, op: Callable[[Any], T], *, check_locked: bool = True) -> T:
        def attempt() -> T:
            collection = self._open()
            if check_locked and collection.is_locked():
                raise StoreLocked(_LOCKED_HINT)
            return op(collection)

        return self._retrying(attempt)

    def get(self, key: SecretKey) -> str | None:
        def attempt() -> str | None:
            reader = self._open_reader()
            secret = reader.read(key.attributes())
            if secret is not None:
                return secret.decode("utf-8")
            # Nothing found: a locked collection may be hiding it (not every service
            # lists a locked collection's items), so only now is it asked.
            if reader.default_collection_locked():
                raise StoreLocked(_LOCKED_HINT)
            return None

        # The search's reply says whether what it found is locked.
        return self._retrying(attempt)

    def set(self, key: SecretKey, value: str) -> None:
        def op(collection: Any) -> None:
            # Imported with the first write: a daemon's first token needs none of it.
            from sigilforge.store.secret_write import create_item

            created = create_item(
                collection.connection,
                collection.session,
                collection.collection_path,
                key.label(),
                key.attributes(),
                value.encode("utf-8"),
            )
            if not created:
                raise StoreLocked(_LOCKED_HINT)

        # ``CreateItem``'s reply says whether the collection is locked.
        self._call(op, check_locked=False)

    def delete(self, key: SecretKey) -> bool:
        def op(collection: Any) -> bool:
            from secretstorage.exceptions import ItemNotFoundException

            found = False
            for item in list(collection.search_items(key.attributes())):
                try:
                    item.delete()
                    found = True
                except ItemNotFoundException:
                    pass
            return found

        return self._call(op)

    def present(self, keys: Sequence[SecretKey]) -> frozenset[SecretKey]:
        def op(collection: Any) -> frozenset[SecretKey]:
            # Attributes only, never a secret, cross the bus for a status; and once the
            # items are known, one round trip per call (see ``SecretItems``).
            # Imported when first listed: a daemon's first token needs none of it.
            from sigilforge.store.secret_items import SecretItems

            items = self._items
            if items is None or items.connection is not collection.connection:
                items = self._items = SecretItems(collection.connection)
            if items.refresh():
                raise StoreLocked(_LOCKED_HINT)
            return items.present(keys)

        # ``refresh`` asks whether the collection is locked itself.
        return self._call(op, check_locked=False)

    def close(self) -> None:
        with self._lock:
            self._reset()
