"""Which of our items the Secret Service holds, kept current from its own signals.

Asking the service per ``ListAccounts`` (one ``SearchItems`` over every item, a reply of
one path per account parsed in pure Python) made listing 1,000 accounts cost ~10 ms.
Instead the items are searched once per connection and followed from then on through
the signals the service emits on every change (``ItemCreated``/``ItemDeleted``/
``ItemChanged`` of a collection; ``CollectionCreated``/``Deleted``/``Changed``, which
gnome-keyring also emits on a lock or unlock), subscribed on the store's own
connection.

Each ``refresh`` still makes one round trip, the default collection's ``Locked``: it
says locked or not, and since a bus delivers one sender's messages to one receiver in
order, every signal the service emitted before answering it has arrived with it. So
whatever another client did before our call (``secret-tool clear``, a lock) is seen by
that very call. Then only the queued changes are applied: an item created or changed
has its attributes read, a deleted one is dropped.

A full search happens again whenever the queued signals cannot be trusted to be
complete: a new connection, a reply from another process than the one searched
(gnome-keyring restarted or ``--replace``d behind the same bus name), a collection
created, deleted, locked or unlocked, or more signals queued than the queue keeps.

The service's ``PropertiesChanged`` is not subscribed to: gnome-keyring sends the whole
``Items`` list of the collection in it on each item created or deleted, which jeepney
would parse for every account added (quadratic), and ``Locked`` is asked per refresh
anyway.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from jeepney import HeaderFields, MatchRule, Message
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import Proxy
from secretstorage.exceptions import ItemNotFoundException
from secretstorage.util import BUS_NAME, DBusAddressWrapper

from sigilforge.store.base import SCHEMA, SecretKey, SecretKind

__all__ = ["SecretItems"]

_ROOT = "/org/freedesktop/secrets"
_DEFAULT = "/org/freedesktop/secrets/aliases/default"
_SERVICE = "org.freedesktop.Secret.Service"
_COLLECTION = "org.freedesktop.Secret.Collection"
_ITEM = "org.freedesktop.Secret.Item"
# Signals kept between two refreshes; past this many a full search is cheaper anyway.
_MAX_QUEUED = 4096
# What tells our items apart (every key has the same attribute names).
_NAMES = tuple(sorted(SecretKey("-", "-", SecretKind.API_KEY).attributes()))

Identity = tuple[str, ...]


class _Signals:
    """The queue jeepney appends matched signals to: bounded, and it remembers that it
    had to drop one (then the items are searched again)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._messages: deque[Message] = deque()
        self.overflowed = False

    def append(self, message: Message) -> None:
        if len(self._messages) >= self._limit:
            self.overflowed = True
        else:
            self._messages.append(message)

    def __len__(self) -> int:
        return len(self._messages)

    def take(self) -> list[Message]:
        taken = list(self._messages)
        self._messages.clear()
        return taken

    def discard(self) -> None:
        self._messages.clear()
        self.overflowed = False


class _SenderSeen:
    """The connection as ``DBusAddressWrapper`` uses it (and its errors mapped the way
    secretstorage maps them), remembering which process sent the last reply."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.sender: str | None = None

    def send_and_get_reply(self, message: Message) -> Message:
        reply: Message = self._connection.send_and_get_reply(message)
        self.sender = reply.header.fields.get(HeaderFields.sender)
        return reply


class SecretItems:
    """Our items on one connection (path -> identity); not thread-safe: the store calls
    it under its own lock, as it does everything on that connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._signals = _Signals(_MAX_QUEUED)
        # The bus filters by the service's name; locally a signal carries the sender's
        # unique name, which ``refresh`` checks against the one searched.
        connection.filter(MatchRule(type="signal", path_namespace=_ROOT), queue=self._signals)
        bus = Proxy(message_bus, connection)
        for interface in (_COLLECTION, _SERVICE):
            bus.AddMatch(
                MatchRule(type="signal", sender=BUS_NAME, interface=interface, path_namespace=_ROOT)
            )
        self._replies = _SenderSeen(connection)
        self._default = DBusAddressWrapper(_DEFAULT, _COLLECTION, self._replies)
        self._owner: str | None = None  # the process whose items these are
        self._items: dict[str, Identity] = {}
        self._searched = False
        # ``present``'s last answer, for as long as neither the items nor the keys change.
        self._version = 0
        self._answered: tuple[int, tuple[SecretKey, ...], frozenset[SecretKey]] | None = None

    def refresh(self) -> bool:
        """Bring the items up to date with the service; True when the default collection
        is locked (the items are then left as they are)."""
        locked = bool(self._default.get_property("Locked"))
        owner = self._replies.sender
        if owner != self._owner or self._signals.overflowed:
            # Another process, or changes we no longer have: nothing known holds.
            self._owner, self._searched = owner, False
            self._forget()
        if locked:
            # Searched again once unlocked: what a locked collection lists is not ours.
            self._searched = False
            return True
        if not self._searched:
            self._search()
        elif self._signals:
            self._apply(self._signals.take())
        return False

    def present(self, keys: Sequence[SecretKey]) -> frozenset[SecretKey]:
        """Which of ``keys`` have an unlocked item, as of the last ``refresh``."""
        listed = tuple(keys)
        answered = self._answered
        # Same items, same keys: the same answer, without a look at each key.
        if answered is not None and answered[0] == self._version and answered[1] == listed:
            return answered[2]
        held = set(self._items.values())
        found = frozenset(key for key in listed if _identity(key.attributes()) in held)
        self._answered = (self._version, listed, found)
        return found

    # -- keeping up ----------------------------------------------------------------------

    def _search(self) -> None:
        service = DBusAddressWrapper(_ROOT, _SERVICE, self._replies)
        unlocked, _locked = service.call("SearchItems", "a{ss}", {"xdg:schema": SCHEMA})
        # Everything queued so far happened before the search answered: it is in there.
        self._signals.discard()
        self._owner = self._replies.sender
        listed = set(unlocked)
        for gone in self._items.keys() - listed:
            del self._items[gone]
        for path in unlocked:
            if path not in self._items:
                self._read(path)
        self._searched = True
        self._changed()
        # Changes made while the attributes were read are in the queue now.
        if self._signals:
            self._apply(self._signals.take())

    def _apply(self, signals: list[Message]) -> None:
        for signal in signals:
            fields = signal.header.fields
            if fields.get(HeaderFields.sender) != self._owner:
                continue  # not from the service we searched: not a change of ours
            member = fields.get(HeaderFields.member)
            interface = fields.get(HeaderFields.interface)
            if interface == _SERVICE:
                # A collection created, deleted, locked or unlocked: which items are
                # listed may have changed wholesale.
                self._search()
                return
            if interface != _COLLECTION or not signal.body:
                continue
            path = signal.body[0]
            if member == "ItemDeleted":
                if self._items.pop(path, None) is not None:
                    self._changed()
            elif member in ("ItemCreated", "ItemChanged"):
                before = self._items.get(path)
                self._read(path)
                if self._items.get(path) != before:
                    self._changed()

    def _read(self, path: str) -> None:
        """Take the item's attributes in; an item gone by now is dropped."""
        item = DBusAddressWrapper(path, _ITEM, self._replies)
        try:
            attributes = dict(item.get_property("Attributes"))
        except ItemNotFoundException:
            self._items.pop(path, None)
            return
        if attributes.get("xdg:schema") == SCHEMA:
            self._items[path] = _identity(attributes)
        else:
            self._items.pop(path, None)

    def _forget(self) -> None:
        self._items.clear()
        self._signals.discard()
        self._changed()

    def _changed(self) -> None:
        self._version += 1


def _identity(attributes: dict[str, str]) -> Identity:
    return tuple(attributes.get(name, "") for name in _NAMES)
