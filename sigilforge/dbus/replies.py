"""Replies answered from memory (cached tokens): encoded here, written to the socket together.

A cached ``GetToken`` takes a couple of microseconds of our own work; building a dbus-fast
``Message`` for the reply and marshalling it through the generic marshaller took as long
again, and dbus-fast then wrote each reply with a ``send`` of its own, waking the bus
daemon once per reply. Here a method return is a few ``struct`` packs (the layout is the
D-Bus specification's, checked against dbus-fast's marshaller by the tests), and the
replies to the calls of one read of the socket (one read carries every call that arrived
meanwhile) go out in one ``send`` once the event loop is done with that read: a reply
waits for the answers to the calls read with it, microseconds, never for anything else.
"""

from __future__ import annotations

import asyncio
import functools
import struct
from typing import TYPE_CHECKING

from dbus_fast import Message, MessageFlag, MessageType

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

__all__ = ["Replies", "encode_method_return", "expects_reply", "token_body"]

_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
# Little endian, METHOD_RETURN, no flags, protocol 1; body length, serial, fields length.
_FIXED = struct.Struct("<4sIII")
_RETURN = b"l\x02\x00\x01"
# Header field codes with their variant signatures (D-Bus specification, "Message Format").
_REPLY_SERIAL = b"\x05\x01u\x00"
_DESTINATION = b"\x06\x01s\x00"
_SIGNATURE = b"\x08\x01g\x00"


def expects_reply(call: Message) -> bool:
    flags = call.flags
    # Identity first: the flag arithmetic of an enum costs more than the rest of a call.
    return flags is MessageFlag.NONE or not flags & MessageFlag.NO_REPLY_EXPECTED


def token_body(token: str, expires_at: int) -> bytes:
    """The body of ``GetToken``'s reply, ``(s token, x expires_at)``."""
    data = token.encode()
    # u32 length, the bytes, a NUL; the int64 starts 8-aligned (bodies start 8-aligned).
    size = 4 + len(data) + 1
    return _U32.pack(len(data)) + data + bytes(1 + -size % 8) + _I64.pack(expires_at)


def encode_method_return(
    serial: int, reply_serial: int, destination: str | None, signature: str, body: bytes
) -> bytes:
    """A whole METHOD_RETURN message: header fields REPLY_SERIAL, DESTINATION (if any) and
    SIGNATURE, then ``body`` (marshalled for ``signature``)."""
    fields = _REPLY_SERIAL + _U32.pack(reply_serial)
    if destination:
        fields += _destination_field(destination)
    fields += _signature_field(signature)
    header = _FIXED.pack(_RETURN, len(body), serial, len(fields)) + fields
    return header + bytes(-len(header) % 8) + body


# The same few callers and one signature, call after call: encoded once each.
@functools.lru_cache(maxsize=1024)
def _destination_field(name: str) -> bytes:
    data = name.encode()
    # Each field starts 8-aligned (the fields start at offset 16, after REPLY_SERIAL's 8).
    return _DESTINATION + _U32.pack(len(data)) + data + bytes(1 + -(len(data) + 1) % 8)


@functools.lru_cache(maxsize=16)
def _signature_field(signature: str) -> bytes:
    data = signature.encode()
    return _SIGNATURE + bytes((len(data),)) + data + b"\x00"


class Replies:
    """Method returns for calls answered on the event loop; one write per turn of it."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []

    def send(self, call: Message, signature: str, body: bytes) -> None:
        """Reply to ``call`` with ``body`` (marshalled for ``signature``), if it wants one."""
        if call.flags is not MessageFlag.NONE and not expects_reply(call):
            return
        if not self._pending:
            # Runs after the callbacks of this turn, the read that brought the call included.
            self._loop.call_soon(self._flush)
        serial = self._bus.next_serial()
        self._pending.append(
            encode_method_return(serial, call.serial, call.sender, signature, body)
        )

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if self._bus.connected:
            self._bus.send(_Encoded(bytearray().join(pending)))


class _Encoded(Message):
    """Messages encoded already, handed to dbus-fast's writer as one."""

    def __init__(self, data: bytearray) -> None:
        # The header fields only satisfy the constructor: ``_marshall`` gives ``data``.
        super().__init__(message_type=MessageType.METHOD_RETURN, reply_serial=1, serial=1)
        self._data = data

    def _marshall(self, negotiate_unix_fd: bool) -> bytearray:
        return self._data
