"""Writing one secret in one Secret Service round trip.

secretstorage's ``Collection.create_item`` asks whether the collection is locked first
(and our store asked once more before that), then reads the new item's label back:
four round trips for one ``CreateItem``. The service's own reply already says
"locked" (the ``IsLocked`` error, or a prompt where a service would unlock by asking the
user), so nothing is asked beforehand.
"""

from __future__ import annotations

from typing import Any

from jeepney.wrappers import DBusErrorResponse
from secretstorage.util import DBusAddressWrapper, format_secret

__all__ = ["create_item"]

_COLLECTION = "org.freedesktop.Secret.Collection"
_ITEM = "org.freedesktop.Secret.Item"
_PROMPT = "org.freedesktop.Secret.Prompt"
_IS_LOCKED = "org.freedesktop.Secret.Error.IsLocked"
_NO_PROMPT = "/"


def create_item(
    connection: Any,
    session: Any,
    collection_path: str,
    label: str,
    attributes: dict[str, str],
    secret: bytes,
) -> bool:
    """Create the item, or replace the one with the same attributes in the same step.
    False, and nothing written, when the collection is locked; the other failures raise
    as secretstorage's own calls would."""
    collection = DBusAddressWrapper(collection_path, _COLLECTION, connection)
    properties = {
        f"{_ITEM}.Label": ("s", label),
        f"{_ITEM}.Attributes": ("a{ss}", attributes),
    }
    try:
        _item, prompt = collection.call(
            "CreateItem",
            "a{sv}(oayays)b",
            properties,
            format_secret(session, secret, "text/plain"),
            True,
        )
    except DBusErrorResponse as exc:
        if exc.name == _IS_LOCKED:
            return False
        raise
    if prompt != _NO_PROMPT:
        # A daemon shows no prompt, and waiting on one would hold the call for as long
        # as nobody answers: the item was not created, so say locked, as before.
        DBusAddressWrapper(prompt, _PROMPT, connection).call("Dismiss", "")
        return False
    return True
