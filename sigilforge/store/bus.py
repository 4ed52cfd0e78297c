"""A blocking D-Bus connection with just the protocol the Secret Service read path needs.

Why not jeepney (which secretstorage uses for everything else): a cache miss in the
daemon is two Secret Service round trips, and jeepney's generic pure-Python marshalling
cost more CPU than both round trips' waiting (~75 us to build ``SearchItems``, ~30 us to
parse each reply); importing it and secretstorage was also ~10 ms of every activation.
Here a message is built and parsed from signatures parsed once, and calls can be
pipelined (``send`` several, then ``reply`` to each), so a cold first read opens its
session and searches in one round trip.

Only what a client of a bus needs: ``unix:`` addresses, EXTERNAL authentication, method
calls and their replies (signals and calls addressed to us are skipped), no file
descriptors. Every wait is bounded by the connection's ``timeout``.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["BusConnection", "BusError", "session_bus_address"]

BUS_DAEMON = "org.freedesktop.DBus"

_CALL, _RETURN, _ERROR = 1, 2, 3
# Header field codes (D-Bus specification, "Message Format").
_PATH, _INTERFACE, _MEMBER, _ERROR_NAME, _REPLY_SERIAL, _DESTINATION = 1, 2, 3, 4, 5, 6
_SIGNATURE = 8
_MAX_MESSAGE = 128 * 1024 * 1024  # the specification's limit


class BusError(Exception):
    """An error reply (``name`` as the bus or the service sent it)."""

    def __init__(self, name: str, text: str = "") -> None:
        super().__init__(f"{name}: {text}" if text else name)
        self.name = name


# -- signatures ------------------------------------------------------------------------

# A parsed single complete type: (code, children). Containers: "a" (one child), "("
# and "{" (their fields); "v" carries its own signature on the wire.
_Type = tuple[str, tuple[Any, ...]]

_ALIGN = {"y": 1, "g": 1, "v": 1, "n": 2, "q": 2, "b": 4, "i": 4, "u": 4, "h": 4, "a": 4}
_ALIGN.update({"s": 4, "o": 4, "x": 8, "t": 8, "d": 8, "(": 8, "{": 8})
_FIXED = {"y": "B", "n": "h", "q": "H", "b": "I", "i": "i", "u": "I", "h": "I"}
_FIXED.update({"x": "q", "t": "Q", "d": "d"})


@functools.lru_cache(maxsize=64)
def _parse_signature(signature: str) -> tuple[_Type, ...]:
    types: list[_Type] = []
    pos = 0
    while pos < len(signature):
        parsed, pos = _parse_one(signature, pos)
        types.append(parsed)
    return tuple(types)


def _parse_one(signature: str, pos: int) -> tuple[_Type, int]:
    code = signature[pos]
    if code == "a":
        child, end = _parse_one(signature, pos + 1)
        return (code, (child,)), end
    if code in "({":
        close = ")" if code == "(" else "}"
        fields: list[_Type] = []
        pos += 1
        while signature[pos] != close:
            field, pos = _parse_one(signature, pos)
            fields.append(field)
        return (code, tuple(fields)), pos + 1
    if code not in _ALIGN:
        raise ValueError(f"unsupported D-Bus type {code!r} in {signature!r}")
    return (code, ()), pos + 1


# -- marshalling (little-endian) --------------------------------------------------------


def _pad(buf: bytearray, align: int) -> None:
    buf.extend(b"\0" * (-len(buf) % align))


def _put(buf: bytearray, t: _Type, value: Any) -> None:
    code, children = t
    if code in ("s", "o"):
        data = value.encode()
        _pad(buf, 4)
        buf += struct.pack("<I", len(data))
        buf += data
        buf += b"\0"
    elif code == "g":
        data = value.encode()
        buf.append(len(data))
        buf += data
        buf += b"\0"
    elif code == "a":
        _pad(buf, 4)
        at = len(buf)
        buf += b"\0\0\0\0"
        (child,) = children
        _pad(buf, _ALIGN[child[0]])
        start = len(buf)
        if child == ("y", ()):
            buf += value
        elif child[0] == "{":
            for item in value.items():
                _put(buf, child, item)
        else:
            for item in value:
                _put(buf, child, item)
        struct.pack_into("<I", buf, at, len(buf) - start)
    elif code in ("(", "{"):
        _pad(buf, 8)
        for field, item in zip(children, value, strict=True):
            _put(buf, field, item)
    elif code == "v":
        signature, inner = value
        _put(buf, ("g", ()), signature)
        (only,) = _parse_signature(signature)
        _put(buf, only, inner)
    else:
        _pad(buf, _ALIGN[code])
        buf += struct.pack("<" + _FIXED[code], value)


def _call_message(
    serial: int,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str,
    body: Sequence[Any],
) -> bytes:
    payload = bytearray()
    for t, value in zip(_parse_signature(signature), body, strict=True):
        _put(payload, t, value)
    start = struct.pack("<4sII", b"l\x01\x00\x01", len(payload), serial)
    return start + _header_fields(destination, path, interface, member, signature) + payload


@functools.lru_cache(maxsize=64)
def _header_fields(
    destination: str, path: str, interface: str, member: str, signature: str
) -> bytes:
    """A call's header fields, padded: the same for every call of one method."""
    fields: list[tuple[int, tuple[str, str]]] = [
        (_PATH, ("o", path)),
        (_INTERFACE, ("s", interface)),
        (_MEMBER, ("s", member)),
        (_DESTINATION, ("s", destination)),
    ]
    if signature:
        fields.append((_SIGNATURE, ("g", signature)))
    # Marshalled after the 12 fixed bytes of the header, so aligned as it will be there.
    header = bytearray(12)
    _put(header, _HEADER_FIELDS, fields)
    _pad(header, 8)
    return bytes(header[12:])


_HEADER_FIELDS: _Type = _parse_signature("a(yv)")[0]


# -- unmarshalling ----------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: str) -> None:
        self.data = data
        self.pos = pos
        self.end = end  # "<" or ">"

    def get(self, t: _Type) -> Any:
        code, children = t
        data = self.data
        if code in ("s", "o"):
            self.pos += -self.pos % 4
            (n,) = struct.unpack_from(self.end + "I", data, self.pos)
            start = self.pos + 4
            self.pos = start + n + 1
            return data[start : start + n].decode()
        if code == "g":
            n = data[self.pos]
            start = self.pos + 1
            self.pos = start + n + 1
            return data[start : start + n].decode()
        if code == "a":
            self.pos += -self.pos % 4
            (n,) = struct.unpack_from(self.end + "I", data, self.pos)
            (child,) = children
            self.pos += 4
            self.pos += -self.pos % _ALIGN[child[0]]
            stop = self.pos + n
            if child == ("y", ()):
                self.pos = stop
                return data[stop - n : stop]
            items = []
            while self.pos < stop:
                items.append(self.get(child))
            return dict(items) if child[0] == "{" else items
        if code in ("(", "{"):
            self.pos += -self.pos % 8
            return tuple(self.get(field) for field in children)
        if code == "v":
            signature = self.get(("g", ()))
            (only,) = _parse_signature(signature)
            return (signature, self.get(only))
        self.pos += -self.pos % _ALIGN[code]
        (value,) = struct.unpack_from(self.end + _FIXED[code], data, self.pos)
        self.pos += struct.calcsize(_FIXED[code])
        return value


def _message_length(fixed: bytes) -> int:
    """The whole message's length, from its first 16 bytes."""
    end = "<" if fixed[:1] == b"l" else ">"
    body, _serial, fields = struct.unpack_from(end + "III", fixed, 4)
    length: int = 16 + fields + (-fields % 8) + body
    if length > _MAX_MESSAGE:
        raise OSError("a D-Bus message over the protocol's size limit")
    return length


class _Message:
    __slots__ = ("body", "error_name", "reply_serial", "type")

    def __init__(self, data: bytes) -> None:
        end = "<" if data[:1] == b"l" else ">"
        self.type = data[1]
        reader = _Reader(data, 12, end)
        fields = dict(reader.get(_HEADER_FIELDS))
        reader.pos += -reader.pos % 8
        self.reply_serial: int | None = fields.get(_REPLY_SERIAL, (None, None))[1]
        self.error_name: str = fields.get(_ERROR_NAME, ("s", ""))[1]
        signature = fields.get(_SIGNATURE, ("g", ""))[1]
        if self.type in (_RETURN, _ERROR):
            self.body = [reader.get(t) for t in _parse_signature(signature)]
        else:
            self.body = []  # a signal or a call to us: skipped, never parsed


# -- the connection ---------------------------------------------------------------------


def session_bus_address() -> str:
    """``DBUS_SESSION_BUS_ADDRESS``, else ``$XDG_RUNTIME_DIR/bus`` (as sd-bus and jeepney)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return f"unix:path={runtime}/bus"
    raise OSError("DBUS_SESSION_BUS_ADDRESS is not set")


def _unix_targets(address: str) -> list[str | bytes]:
    """Socket addresses of the ``unix:`` entries of a D-Bus address list."""
    from urllib.parse import unquote_to_bytes

    targets: list[str | bytes] = []
    for entry in address.split(";"):
        transport, _, params = entry.partition(":")
        if transport != "unix":
            continue
        keys = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if "path" in keys:
            targets.append(os.fsdecode(unquote_to_bytes(keys["path"])))
        elif "abstract" in keys:
            targets.append(b"\0" + unquote_to_bytes(keys["abstract"]))
    if not targets:
        raise OSError(f"no unix: address in {address[:120]!r}")
    return targets


class BusConnection:
    """One connection to the session bus; not thread-safe (the caller serialises).

    Nothing is waited for until the first ``reply``: authentication, ``Hello`` and
    whatever is sent next go out together (pipelined, as sd-bus does), so a connection
    opened ahead costs its caller no round trip at all."""

    def __init__(self, address: str, *, timeout: float) -> None:
        self.timeout = timeout
        self._serial = 0
        self._buffer = bytearray()
        # Replies that came while waiting for another, for calls not yet ``reply``-ed.
        self._pending: set[int] = set()
        self._replies: dict[int, _Message] = {}
        self._authenticated = False
        self._sock = self._connect(address)
        try:
            uid = str(os.getuid()).encode().hex().encode()
            # Hello must be the bus's first message; its reply (our unique name) is never
            # needed, so it is not waited for: the first call's reply comes after it.
            hello = _call_message(
                1, BUS_DAEMON, "/org/freedesktop/DBus", BUS_DAEMON, "Hello", "", ()
            )
            self._serial = 1
            self._sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\nBEGIN\r\n" + hello)
        except BaseException:
            self._sock.close()
            raise

    def _connect(self, address: str) -> socket.socket:
        error: OSError | None = None
        for target in _unix_targets(address):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                sock.settimeout(self.timeout)
                sock.connect(target)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        assert error is not None
        raise error

    def _check_authenticated(self, deadline: float) -> None:
        while b"\r\n" not in self._buffer:
            self._recv_into_buffer(deadline)
        line, _, rest = bytes(self._buffer).partition(b"\r\n")
        if not line.startswith(b"OK "):
            raise OSError(f"the bus refused EXTERNAL authentication: {line[:60]!r}")
        self._buffer[:] = rest
        self._authenticated = True

    def _recv_into_buffer(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the bus did not answer in time")
        self._sock.settimeout(left)
        chunk = self._sock.recv(65536)
        if not chunk:
            raise OSError("the bus closed the connection")
        self._buffer += chunk

    def send(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str,
        body: Sequence[Any],
    ) -> int:
        """Send a method call; its serial, for ``reply``."""
        self._serial += 1
        message = _call_message(self._serial, destination, path, interface, member, signature, body)
        self._sock.settimeout(self.timeout)
        self._sock.sendall(message)
        self._pending.add(self._serial)
        return self._serial

    def reply(self, serial: int) -> list[Any]:
        """The body of the reply to call ``serial``; ``BusError`` for an error reply."""
        deadline = time.monotonic() + self.timeout
        if not self._authenticated:
            self._check_authenticated(deadline)
        while serial not in self._replies:
            message = self._next_message(deadline)
            if message.reply_serial in self._pending and message.type in (_RETURN, _ERROR):
                self._replies[message.reply_serial] = message
        self._pending.discard(serial)
        message = self._replies.pop(serial)
        if message.type == _ERROR:
            text = message.body[0] if message.body and isinstance(message.body[0], str) else ""
            raise BusError(message.error_name, text)
        return message.body

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
    ) -> list[Any]:
        return self.reply(self.send(destination, path, interface, member, signature, body))

    def _next_message(self, deadline: float) -> _Message:
        buffer = self._buffer
        while len(buffer) < 16:
            self._recv_into_buffer(deadline)
        length = _message_length(bytes(buffer[:16]))
        while len(buffer) < length:
            self._recv_into_buffer(deadline)
        data = bytes(buffer[:length])
        del buffer[:length]
        return _Message(data)

    def close(self) -> None:
        self._sock.close()
