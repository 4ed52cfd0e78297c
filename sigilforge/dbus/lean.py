"""A minimal blocking D-Bus connection for the CLI: method calls on the session bus and
their replies, nothing else (no signals, no file descriptors, no server side).

``sigilforge get-token`` runs in scripts' loops, and importing jeepney (its package loads
every module it has, plus socket, selectors and typing) cost more than the rest of the
command. This needs only the interpreter's built-in ``_socket`` and ``struct``. It sends
little-endian D-Bus 1 messages and reads either byte order
(https://dbus.freedesktop.org/doc/dbus-specification.html). The handshake is pipelined
the way sd-bus does it: the SASL ``AUTH``, ``BEGIN``, ``Hello`` and the first call leave in
one write, so a one-shot call costs one round trip through the bus.

Values cross as jeepney hands them: a variant is a ``(signature, value)`` pair, an array
a list (``ay`` bytes), a dict entry array a dict, a struct a tuple.
"""

from __future__ import annotations

import _socket
import os
import struct
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every run
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Connection", "ErrorReply", "HandshakeError", "session_bus_path"]

# Message types and header field codes (spec: "Message Format").
_CALL, _RETURN, _ERROR = 1, 2, 3
_PATH, _INTERFACE, _MEMBER, _ERROR_NAME, _REPLY_SERIAL, _DESTINATION = 1, 2, 3, 4, 5, 6
_SIGNATURE = 8
_NO_AUTO_START = 0x2

# Fixed-size basic types: (struct format, size = alignment).
_FIXED = {
    "y": ("B", 1),
    "b": ("I", 4),
    "n": ("h", 2),
    "q": ("H", 2),
    "i": ("i", 4),
    "u": ("I", 4),
    "x": ("q", 8),
    "t": ("Q", 8),
    "d": ("d", 8),
}
_ALIGN = {"s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}
# The bus refuses bigger messages; a length above it means the stream is garbage.
_MAX_MESSAGE = 1 << 27


class HandshakeError(ValueError):
    """The bus refused the SASL handshake (a ValueError, as a malformed address is)."""


class ErrorReply(Exception):
    """An error reply: its D-Bus error name and first string argument."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(name, text)
        self.name = name
        self.text = text


def session_bus_path(address: str) -> str:
    """The socket of the first ``unix:`` address in ``DBUS_SESSION_BUS_ADDRESS``
    (an abstract one with a leading NUL); ValueError if there is none."""
    for entry in address.split(";"):
        transport, _, params = entry.partition(":")
        if transport != "unix":
            continue
        values = {}
        for pair in params.split(","):
            key, eq, value = pair.partition("=")
            if not eq:
                raise ValueError(f"malformed D-Bus address {address!r}")
            values[key] = _unescape(value)
        if "path" in values:
            return values["path"]
        if "abstract" in values:
            return "\0" + values["abstract"]
    raise ValueError(f"no unix: socket in D-Bus address {address!r}")


def _unescape(value: str) -> str:
    if "%" not in value:
        return value
    parts = value.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        out.append(chr(int(part[:2], 16)) + part[2:])
    return "".join(out)


def _alignment(sig: str) -> int:
    fixed = _FIXED.get(sig[0])
    return fixed[1] if fixed is not None else _ALIGN[sig[0]]


def _type_end(sig: str, i: int) -> int:
    """Where the single complete type starting at ``sig[i]`` ends."""
    c = sig[i]
    if c == "a":
        return _type_end(sig, i + 1)
    if c in "({":
        close = ")" if c == "(" else "}"
        j = i + 1
        while sig[j] != close:
            j = _type_end(sig, j)
        return j + 1
    return i + 1


def _split(sig: str) -> list[str]:
    types, i = [], 0
    while i < len(sig):
        j = _type_end(sig, i)
        types.append(sig[i:j])
        i = j
    return types


class _Writer:
    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def pad(self, n: int) -> None:
        self.buf += b"\0" * (-len(self.buf) % n)

    def write(self, sig: str, value: Any) -> None:
        c = sig[0]
        buf = self.buf
        fixed = _FIXED.get(c)
        if fixed is not None:
            self.pad(fixed[1])
            buf += struct.pack("<" + fixed[0], value)
        elif c in "so":
            data = str(value).encode()
            self.pad(4)
            buf += struct.pack("<I", len(data)) + data + b"\0"
        elif c == "g":
            data = str(value).encode()
            buf += bytes((len(data),)) + data + b"\0"
        elif c == "v":
            inner, item = value
            self.write("g", inner)
            self.write(inner, item)
        elif c == "(":
            self.pad(8)
            fields = _split(sig[1:-1])
            for field, item in zip(fields, value, strict=True):
                self.write(field, item)
        elif c == "a":
            self._array(sig[1:], value)
        else:
            raise ValueError(f"cannot send D-Bus type {sig!r}")

    def _array(self, element: str, value: Any) -> None:
        self.pad(4)
        at = len(self.buf)
        self.buf += b"\0\0\0\0"
        self.pad(_alignment(element))
        start = len(self.buf)
        if element[0] == "{":
            key, item = _split(element[1:-1])
            for k, v in value.items():
                self.pad(8)
                self.write(key, k)
                self.write(item, v)
        else:
            for v in value:
                self.write(element, v)
        struct.pack_into("<I", self.buf, at, len(self.buf) - start)


class _Reader:
    __slots__ = ("data", "order", "pos")

    def __init__(self, data: bytes, order: str, pos: int = 0) -> None:
        self.data = data
        self.order = order
        self.pos = pos

    def align(self, n: int) -> None:
        self.pos += -self.pos % n

    def _unpack(self, fmt: str, size: int) -> object:
        (value,) = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += size
        return value

    def read(self, sig: str) -> object:
        c = sig[0]
        fixed = _FIXED.get(c)
        if fixed is not None:
            self.align(fixed[1])
            value = self._unpack(fixed[0], fixed[1])
            return bool(value) if c == "b" else value
        if c in "so":
            self.align(4)
            n = self._unpack("I", 4)
            assert isinstance(n, int)
            text = self.data[self.pos : self.pos + n].decode()
            self.pos += n + 1
            return text
        if c == "g":
            n = self.data[self.pos]
            text = self.data[self.pos + 1 : self.pos + 1 + n].decode("ascii")
            self.pos += n + 2
            return text
        if c == "v":
            inner = self.read("g")
            assert isinstance(inner, str)
            return (inner, self.read(inner))
        if c == "(":
            self.align(8)
            return tuple(self.read(field) for field in _split(sig[1:-1]))
        if c == "a":
            return self._array(sig[1:])
        raise ValueError(f"cannot read D-Bus type {sig!r}")

    def _array(self, element: str) -> object:
        self.align(4)
        length = self._unpack("I", 4)
        assert isinstance(length, int)
        c = element[0]
        self.align(_alignment(element))
        end = self.pos + length
        if element == "y":  # bytes, as jeepney gives them
            self.pos = end
            return bytes(self.data[end - length : end])
        if c == "{":
            key, item = _split(element[1:-1])
            entries = {}
            while self.pos < end:
                self.align(8)
                k = self.read(key)
                entries[k] = self.read(item)
            return entries
        items = []
        while self.pos < end:
            items.append(self.read(element))
        return items


def _message(
    serial: int,
    destination: str,
    path: str,
    interface: str | None,
    member: str,
    signature: str,
    body: tuple[object, ...],
) -> bytes:
    payload = _Writer()
    for sig, value in zip(_split(signature), body, strict=True):
        payload.write(sig, value)
    fields: list[tuple[int, tuple[str, object]]] = [(_PATH, ("o", path))]
    if interface:
        fields.append((_INTERFACE, ("s", interface)))
    fields += [(_MEMBER, ("s", member)), (_DESTINATION, ("s", destination))]
    if signature:
        fields.append((_SIGNATURE, ("g", signature)))
    head = _Writer()
    head.buf += struct.pack("<cBBBII", b"l", _CALL, 0, 1, len(payload.buf), serial)
    head.write("a(yv)", fields)
    head.pad(8)
    return bytes(head.buf + payload.buf)


class Connection:
    """One connection to the session bus, for method calls made one at a time."""

    def __init__(self, sock: _socket.socket, auth_timeout: float) -> None:
        self._sock = sock
        self._auth_timeout = auth_timeout
        self._serial = 1  # the Hello
        self._buf = bytearray()
        # Sent with the first call, read back before its reply (see the module doc).
        uid = str(os.geteuid()).encode().hex().encode()
        hello = _message(
            1,
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            "",
            (),
        )
        self._unsent = b"\0AUTH EXTERNAL " + uid + b"\r\nBEGIN\r\n" + hello
        self._greeted = False

    @classmethod
    def open(cls, address: str, timeout: float) -> Connection:
        """Connect (OSError, TimeoutError, ValueError when it cannot); ``timeout`` also
        bounds the handshake, done with the first call."""
        path = session_bus_path(address)
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except BaseException:
            sock.close()
            raise
        return cls(sock, timeout)

    @property
    def greeted(self) -> bool:
        """Whether the bus has accepted the handshake (before it, failures mean no bus)."""
        return self._greeted

    def close(self) -> None:
        self._sock.close()

    def call(
        self,
        destination: str,
        path: str,
        interface: str | None,
        member: str,
        signature: str,
        body: tuple[object, ...],
        timeout: float,
    ) -> tuple[object, ...]:
        """The reply's values; ErrorReply for an error reply, TimeoutError, OSError if
        the connection fails, HandshakeError if the bus refuses us."""
        deadline = time.monotonic() + timeout
        self._serial += 1
        serial = self._serial
        message = _message(serial, destination, path, interface, member, signature, body)
        self._sock.settimeout(timeout)
        self._sock.sendall(self._unsent + message)
        self._unsent = b""
        if not self._greeted:
            self._greet(min(deadline, time.monotonic() + self._auth_timeout))
        while True:
            kind, fields, order, data = self._receive(deadline)
            if fields.get(_REPLY_SERIAL) == 1 and kind == _ERROR:
                raise HandshakeError(f"the bus refused Hello: {fields.get(_ERROR_NAME)}")
            if kind not in (_RETURN, _ERROR) or fields.get(_REPLY_SERIAL) != serial:
                continue  # the Hello reply, NameAcquired: nothing this caller asked for
            sig = fields.get(_SIGNATURE, "")
            assert isinstance(sig, str)
            reader = _Reader(data, order)
            values = tuple(reader.read(t) for t in _split(sig))
            if kind == _ERROR:
                text = values[0] if values and isinstance(values[0], str) else ""
                raise ErrorReply(str(fields.get(_ERROR_NAME, "")), text)
            return values

    def _greet(self, deadline: float) -> None:
        line = self._fill_line(deadline)
        if not line.startswith(b"OK "):
            raise HandshakeError(f"the bus refused us: {line[:80]!r}")
        self._greeted = True

    def _recv(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply in time")
        self._sock.settimeout(left)
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError(104, "Connection reset by peer")
        self._buf += chunk

    def _fill_line(self, deadline: float) -> bytes:
        while b"\r\n" not in self._buf:
            if len(self._buf) > 4096:
                raise HandshakeError("no answer to AUTH from the bus")
            self._recv(deadline)
        end = self._buf.index(b"\r\n")
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    def _fill(self, size: int, deadline: float) -> None:
        while len(self._buf) < size:
            self._recv(deadline)

    def _receive(self, deadline: float) -> tuple[int, dict[int, object], str, bytes]:
        self._fill(16, deadline)
        order = {b"l": "<", b"B": ">"}.get(bytes(self._buf[:1]))
        if order is None:
            raise ConnectionResetError(104, "garbled message from the bus")
        kind = self._buf[1]
        body_len, _, fields_len = struct.unpack_from(order + "III", self._buf, 4)
        start = 16 + fields_len + (-(16 + fields_len) % 8)
        total = start + body_len
        if total > _MAX_MESSAGE:
            raise ConnectionResetError(104, "oversized message from the bus")
        self._fill(total, deadline)
        data = bytes(self._buf[:total])
        del self._buf[:total]
        header = _Reader(data, order, 12)
        raw = header.read("a(yv)")
        assert isinstance(raw, list)
        fields = {code: value for code, (_, value) in raw}
        return kind, fields, order, data[start:]
