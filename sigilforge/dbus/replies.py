"""Replies answered from memory (cached tokens): encoded here, written to the socket together.

A cached ``GetToken`` takes a couple of microseconds of our own work; building a dbus-fast
``Message`` for the reply and marshalling it through the generic marshaller took as long
again, and dbus-fast then wrote each reply with a ``send`` of its own, waking the bus
daemon once per reply. Here a method return is a few ``struct`` packs (the layout is the
D-Bus specification's, checked against dbus-fast's marshaller by the tests), and the
replies to the calls of one read of the socket (one read carries every call that arrived
meanwhile) go out in one ``send`` as that read's callback ends: a reply waits for the
answers to the calls read with it, microseconds, never for anything else. (Sending at the
next turn of the loop instead cost one more wake-up of the loop per read: 16 callers got
~5% fewer calls answered than from a dbus-fast service answering each call as it came.)

A token reply is the same bytes call after call but for the two serials, so each
(caller, token) pair is encoded once and copied with its serials packed in.

An answer from memory is made from the last look at ``accounts.json`` (its epoch), not
a look per call: it goes out only if, as its read ends (or at the end of the turn),
after every call answered with it was received, ``confirm(epoch)`` (one poll of the
file's watch) says nothing changed since. Otherwise those calls are handed to ``redo``,
which answers them afresh.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbus_fast import Message, MessageFlag, MessageType

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

__all__ = ["Replies", "encode_method_return", "expects_reply", "token_body"]

log = logging.getLogger(__name__)

_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
# Little endian, METHOD_RETURN, no flags, protocol 1; body length, serial, fields length.
_FIXED = struct.Struct("<4sIII")
_RETURN = b"l\x02\x00\x01"
# Header field codes with their variant signatures (D-Bus specification, "Message Format").
_REPLY_SERIAL = b"\x05\x01u\x00"
_DESTINATION = b"\x06\x01s\x00"
_SIGNATURE = b"\x08\x01g\x00"
# Where a method return's serials sit: the fixed header's, then REPLY_SERIAL's value.
_SERIAL_AT = 8
_REPLY_SERIAL_AT = 20
_NO_FLAGS = MessageFlag.NONE
# Callers times tokens encoded at once; past it, start again (a few per caller is usual).
_TEMPLATES = 1024


def expects_reply(call: Message) -> bool:
    flags = call.flags
    # Identity first: the flag arithmetic of an enum costs more than the rest of a call.
    return flags is _NO_FLAGS or not flags & MessageFlag.NO_REPLY_EXPECTED


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
    """Method returns for calls answered on the event loop; one write per read of the
    socket (or per turn of the loop, for answers from the pool).

    ``confirm(epoch)``: whether answers from memory made as of ``epoch`` still hold;
    ``redo(call)``: answer a call whose answer from memory did not."""

    def __init__(
        self,
        bus: MessageBus,
        confirm: Callable[[int], bool],
        redo: Callable[[Message], None],
    ) -> None:
        self._bus = bus
        self._confirm = confirm
        self._redo = redo
        self._loop = asyncio.get_running_loop()
        self._scheduled = False
        self._pending = bytearray()
        # Answers from memory, held until ``confirm``; their calls; the epoch of the first.
        self._held = bytearray()
        self._held_calls: list[Message] = []
        self._epoch = 0
        # (caller, token) -> (expires_at, the whole reply with both serials zero).
        self._templates: dict[tuple[str | None, str], tuple[int, bytes]] = {}
        self._out = _Encoded()
        self._reading = False
        self.flushes_with_reads = _after_each_read(self._loop, bus, self._read_done)

    def _read_done(self, reader: Callable[[], object]) -> None:
        self._reading = True
        try:
            reader()
        finally:
            self._reading = False
            if self._scheduled:
                self._flush()

    def send_token(self, call: Message, token: str, expires_at: int, epoch: int | None) -> None:
        """``GetToken``'s reply; ``epoch``: answered from memory as of it (held for
        ``confirm``), or None: read for this call."""
        if call.flags is not _NO_FLAGS and not expects_reply(call):
            return
        key = (call.sender, token)
        template = self._templates.get(key)
        if template is None or template[0] != expires_at:
            template = self._template(key, expires_at)
        if epoch is None:
            out = self._pending
        else:
            out = self._held
            if not self._held_calls:
                self._epoch = epoch
            elif epoch != self._epoch:
                # Read again mid-turn: nothing in this turn is sent without a fresh look.
                self._epoch = -1
            self._held_calls.append(call)
        if not self._scheduled:
            self._scheduled = True
            if not self._reading:
                # Not answered within a read (a cache miss's answer from the pool): after
                # the callbacks of this turn.
                self._loop.call_soon(self._flush)
        at = len(out)
        out += template[1]
        _U32.pack_into(out, at + _SERIAL_AT, self._bus.next_serial())
        _U32.pack_into(out, at + _REPLY_SERIAL_AT, call.serial)

    def forget(self) -> None:
        """Drop every encoded reply: after a token is removed or replaced, no copy of it
        stays in memory here (the token cache forgets it too)."""
        self._templates.clear()

    def _template(self, key: tuple[str | None, str], expires_at: int) -> tuple[int, bytes]:
        if len(self._templates) >= _TEMPLATES:
            self._templates.clear()
        sender, token = key
        reply = encode_method_return(0, 0, sender, "sx", token_body(token, expires_at))
        template = self._templates[key] = (expires_at, reply)
        return template

    def _flush(self) -> None:
        if not self._scheduled:
            return  # sent already, at the end of a read in the same turn
        self._scheduled = False
        data, self._pending = self._pending, bytearray()
        calls = self._held_calls
        if calls:
            held, self._held, self._held_calls = self._held, bytearray(), []
            try:
                confirmed = self._epoch >= 0 and self._confirm(self._epoch)
            except Exception:
                confirmed = False  # whatever failed there, the calls' redo meets and names
            if confirmed:
                data += held
            else:
                for call in calls:
                    self._redo(call)
        if data and self._bus.connected:
            # dbus-fast takes the bytes out of the message within ``send``.
            self._out._data = data
            self._bus.send(self._out)


def _after_each_read(
    loop: asyncio.AbstractEventLoop, bus: Any, then: Callable[[Callable[[], object]], None]
) -> bool:
    """Have ``then(reader)`` run in place of the bus's socket reader, so that it can act
    as the reader's callback ends. dbus-fast keeps neither its reader nor its socket's fd
    public, and asyncio's selector loops keep their registered callbacks private too: if
    any of that is not as expected (another loop, another dbus-fast), nothing changes and
    False says replies go out at the next turn of the loop instead."""
    try:
        fd = bus._fd
        handle = loop._selector.get_key(fd).data[0]  # type: ignore[attr-defined]
        reader = handle._callback
        args = handle._args
    except (AttributeError, KeyError, TypeError, IndexError, ValueError):
        log.debug("replies go out at the next turn of the loop: no reader to follow")
        return False
    if not callable(reader) or args:
        return False
    loop.add_reader(fd, then, reader)
    return True


class _Encoded(Message):
    """Messages encoded already, handed to dbus-fast's writer as one."""

    def __init__(self) -> None:
        # The header fields only satisfy the constructor: ``_marshall`` gives ``_data``.
        super().__init__(message_type=MessageType.METHOD_RETURN, reply_serial=1, serial=1)
        self._data = bytearray()

    def _marshall(self, negotiate_unix_fd: bool) -> bytearray:
        return self._data
