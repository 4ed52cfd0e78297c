"""``ListAccounts``' reply, encoded once per list of accounts rather than once per call.

With a thousand accounts, building the variants and marshalling them cost several
milliseconds a call, for an answer that only changes when ``accounts.json`` (or what
the store says about an account) does. Accounts are frozen values, so an equal list is
the same answer; the account store hands back the very same objects until its file
changes, and tuple comparison settles identical items by a pointer compare.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from dbus_fast import Message, MessageFlag, MessageType, Variant
from dbus_fast._private.marshaller import Marshaller

from sigilforge.dbus.wire import account_to_wire
from sigilforge.model import Account

__all__ = ["SIGNATURE", "EncodedReply", "Listing", "account_rows"]

SIGNATURE = "aa{sv}"

# The D-Bus header: endianness, type, flags, version, body length, serial, fields.
_HEADER = "yyyyuua(yv)"
_LITTLE_ENDIAN = ord("l")
_PROTOCOL_VERSION = 1
_REPLY_SERIAL, _DESTINATION, _SIGNATURE = 5, 6, 8


def account_rows(accounts: Sequence[Account]) -> list[dict[str, Variant]]:
    return [
        {name: Variant(sig, value) for name, (sig, value) in account_to_wire(a).items()}
        for a in accounts
    ]


def encode_accounts(accounts: Sequence[Account]) -> bytes:
    """The marshalled ``aa{sv}`` body (bodies start 8-aligned, so offset 0 is right)."""
    return bytes(Marshaller(SIGNATURE, [account_rows(accounts)]).marshall())


class Listing:
    """The encoded body for the last list of accounts seen; safe to call from the pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: tuple[Account, ...] = ()
        self._body = encode_accounts(())

    def body(self, accounts: Sequence[Account]) -> bytes:
        with self._lock:
            listed = tuple(accounts)
            if listed != self._accounts:
                self._accounts = listed
                self._body = encode_accounts(self._accounts)
            return self._body


class EncodedReply(Message):
    """A method return carrying a body marshalled beforehand: dbus-fast would marshal
    ``body`` again on every send, so only the (small) header is built here."""

    def __init__(self, call: Message, signature: str, body: bytes) -> None:
        super().__init__(
            message_type=MessageType.METHOD_RETURN,
            reply_serial=call.serial,
            destination=call.sender,
            signature=signature,
        )
        self._encoded = body

    def _marshall(self, negotiate_unix_fd: bool) -> bytearray:
        fields: list[Any] = [(_REPLY_SERIAL, Variant("u", self.reply_serial))]
        if self.destination:
            fields.append((_DESTINATION, Variant("s", self.destination)))
        fields.append((_SIGNATURE, Variant("g", self.signature)))
        header = Marshaller(
            _HEADER,
            [
                _LITTLE_ENDIAN,
                MessageType.METHOD_RETURN.value,
                MessageFlag.NONE.value,
                _PROTOCOL_VERSION,
                len(self._encoded),
                self.serial,
                fields,
            ],
        )
        buffer = header.marshall()
        buffer.extend(bytes(-len(buffer) % 8))  # the body starts 8-aligned
        return buffer + self._encoded
