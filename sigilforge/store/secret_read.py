"""Reading one secret in two Secret Service round trips, as libsecret does.

``Service.SearchItems`` answers which matching items are unlocked and which are locked,
so "locked" is learned from the reply instead of asked per call; ``Service.GetSecrets``
then returns the secret through the session opened once for the reader. secretstorage's
item API takes five calls for the same read (a ``Locked`` check, the search, two
property reads on the item, ``GetSecret``).

``SecretReader`` does this over a connection of its own (``sigilforge.store.bus``), not
secretstorage's: the read is every cache miss and every activation's first token, and
on it jeepney's marshalling cost more than the round trips. The session is the same
``dh-ietf1024-sha256-aes128-cbc-pkcs7`` one secretstorage opens (plain only where the
service has no encryption at all, as there), asked for ahead (``begin_session``) or in
the same round trip as the first search.
"""

from __future__ import annotations

from typing import Any

from sigilforge.store import dh
from sigilforge.store.aes import decrypt, prepare
from sigilforge.store.bus import BusConnection, BusError, session_bus_address

__all__ = ["LOCKED", "NO_SUCH_OBJECT", "SecretReader"]

SECRETS = "org.freedesktop.secrets"
_PATH = "/org/freedesktop/secrets"
_SERVICE = "org.freedesktop.Secret.Service"
_COLLECTION = "org.freedesktop.Secret.Collection"
_PROPERTIES = "org.freedesktop.DBus.Properties"
_DEFAULT = "/org/freedesktop/secrets/aliases/default"
# The Secret Service's own error names (its specification, "Errors").
LOCKED = "org.freedesktop.Secret.Error.IsLocked"
NO_SUCH_OBJECT = "org.freedesktop.Secret.Error.NoSuchObject"
_NOT_SUPPORTED = "org.freedesktop.DBus.Error.NotSupported"


class _Session:
    """One Secret Service session: its object path and AES key (None: plain)."""

    def __init__(self, path: str, key: bytes | None) -> None:
        self.path = path
        self.key = key

    def plain(self, secret: tuple[str, bytes, bytes, str]) -> bytes:
        _session, parameters, value, _content_type = secret
        if self.key is None:
            return bytes(value)
        return decrypt(self.key, bytes(parameters), bytes(value))


class SecretReader:
    """Reads secrets on a connection and session of its own; not thread-safe (the store
    serialises). Errors: ``BusError`` (``LOCKED`` when only locked items match),
    ``OSError``, ``TimeoutError``."""

    def __init__(self, *, timeout: float) -> None:
        self._bus = BusConnection(session_bus_address(), timeout=timeout)
        self._session: _Session | None = None
        # An OpenSession sent and not yet answered: (its serial, our private key).
        self._opening: tuple[int, bytes] | None = None

    def _service(self, member: str, signature: str, *body: Any) -> int:
        return self._bus.send(SECRETS, _PATH, _SERVICE, member, signature, body)

    def begin_session(self) -> None:
        """Ask for the session now, without waiting: the first read takes the answer
        (a read-ahead, while the caller does other work)."""
        if self._session is None and self._opening is None:
            self._opening = self._begin_session()

    def read(self, attributes: dict[str, str]) -> bytes | None:
        """The secret of the first unlocked item with these attributes; None when none
        has them."""
        if self._session is None and self._opening is None:
            # The session and the search in one round trip: neither needs the other.
            self._opening = self._begin_session()
        searching = self._service("SearchItems", "a{ss}", attributes)
        session = self._session
        if session is None:
            assert self._opening is not None
            opening, self._opening = self._opening, None
            session = self._session = self._finish_session(*opening)
        unlocked, locked = self._bus.reply(searching)
        if not unlocked:
            if locked:
                raise BusError(LOCKED, "the item is locked")
            return None
        getting = self._service("GetSecrets", "aoo", unlocked, session.path)
        if session.key is not None:
            prepare()  # while the secrets are on their way (the search's reply came already)
        (secrets,) = self._bus.reply(getting)
        for path in unlocked:
            if path in secrets:
                return session.plain(secrets[path])
        return None  # deleted between the search and the read

    def _begin_session(self) -> tuple[int, bytes]:
        """Ask for a session: (the call's serial, our private key)."""
        private, public = dh.key_pair()
        return self._service("OpenSession", "sv", dh.ALGORITHM, ("ay", public)), private

    def _finish_session(self, opening: int, private: bytes) -> _Session:
        try:
            (_signature, server_public), path = self._bus.reply(opening)
        except BusError as exc:
            if exc.name != _NOT_SUPPORTED:
                raise
            # A service without encryption at all (as secretstorage, never by choice).
            (_output, path) = self._bus.reply(
                self._service("OpenSession", "sv", "plain", ("s", ""))
            )
            return _Session(path, None)
        return _Session(path, dh.shared_key(private, bytes(server_public)))

    def default_collection_locked(self) -> bool:
        """Whether the default collection is locked; ``BusError`` (``NO_SUCH_OBJECT`` or
        the bus's ``UnknownObject``) when there is none."""
        serial = self._bus.send(
            SECRETS, _DEFAULT, _PROPERTIES, "Get", "ss", (_COLLECTION, "Locked")
        )
        ((_signature, locked),) = self._bus.reply(serial)
        return bool(locked)

    def close(self) -> None:
        self._bus.close()
