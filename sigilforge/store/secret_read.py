"""Reading one secret in two Secret Service round trips, as libsecret does.

``Service.SearchItems`` answers which matching items are unlocked and which are locked,
so "locked" is learned from the reply instead of asked per call; ``Service.GetSecrets``
then returns the secret through the session opened once for the store. secretstorage's
item API takes five calls for the same read (a ``Locked`` check, the search, two
property reads on the item, ``GetSecret``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from secretstorage.exceptions import LockedException
from secretstorage.util import DBusAddressWrapper

from sigilforge.store.base import SCHEMA, SecretKey

__all__ = ["present_keys", "read_secret"]

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


def present_keys(
    connection: Any, keys: Sequence[SecretKey], known: dict[str, tuple[str, ...]]
) -> frozenset[SecretKey]:
    """Which of ``keys`` have an unlocked item: one ``SearchItems`` for all of our
    items, then the attributes of only the items not seen before (``known``: item path
    -> its attributes, kept by the caller for as long as its connection). Asking item by
    item took two calls per account, a second at 1,000 accounts for each listing."""
    service = DBusAddressWrapper(_PATH, _SERVICE, connection)
    unlocked, _locked = service.call("SearchItems", "a{ss}", {"xdg:schema": SCHEMA})
    listed = set(unlocked)
    for gone in known.keys() - listed:
        del known[gone]
    names = tuple(sorted(keys[0].attributes())) if keys else ()
    for path in unlocked:
        if path not in known:
            item = DBusAddressWrapper(path, _ITEM, connection)
            attributes = dict(item.get_property("Attributes"))
            known[path] = tuple(attributes.get(name, "") for name in names)
    wanted = {_projection(key, names): key for key in keys}
    return frozenset(wanted[found] for found in known.values() if found in wanted)


def _projection(key: SecretKey, names: tuple[str, ...]) -> tuple[str, ...]:
    attributes = key.attributes()
    return tuple(attributes[name] for name in names)
