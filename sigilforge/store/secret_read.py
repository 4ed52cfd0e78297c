"""Reading one secret in two Secret Service round trips, as libsecret does.

``Service.SearchItems`` answers which matching items are unlocked and which are locked,
so "locked" is learned from the reply instead of asked per call; ``Service.GetSecrets``
then returns the secret through the session opened once for the store. secretstorage's
item API takes five calls for the same read (a ``Locked`` check, the search, two
property reads on the item, ``GetSecret``).
"""

from __future__ import annotations

from typing import Any

from secretstorage.exceptions import LockedException
from secretstorage.util import DBusAddressWrapper

__all__ = ["read_secret"]

_PATH = "/org/freedesktop/secrets"
_SERVICE = "org.freedesktop.Secret.Service"
_ITEM = "org.freedesktop.Secret.Item"


def read_secret(connection: Any, session: Any, attributes: dict[str, str]) -> bytes | None:
    """The secret of the first unlocked item with these attributes; None when none has
    them. Raises ``LockedException`` when only locked items do; ``ItemNotFoundException``
    and the other secretstorage errors as its own calls would."""
    service = DBusAddressWrapper(_PATH, _SERVICE, connection)
    unlocked, locked = service.call("SearchItems", "a{ss}", attributes)
    if not unlocked:
        if locked:
            raise LockedException("the item is locked")
        return None
    (secrets,) = service.call("GetSecrets", "aoo", unlocked, session.object_path)
    for path in unlocked:
        if path in secrets:
            return _plain(session, secrets[path])
    return None  # deleted between the search and the read


def _plain(session: Any, secret: tuple[str, bytes, bytes, str]) -> bytes:
    _session, parameters, value, _content_type = secret
    if not session.encrypted:
        return bytes(value)
    # Imported here: an unencrypted (plain) session never needs it.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(parameters))).decryptor()
    padded = decryptor.update(bytes(value)) + decryptor.finalize()
    return padded[: -padded[-1]]
