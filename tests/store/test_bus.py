"""The Secret Service read path's own D-Bus codec and connection (``store.bus``),
checked against an independent implementation (dbus-fast's) and a real bus."""

from __future__ import annotations

import io
from typing import Any

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast._private.unmarshaller import Unmarshaller

from sigilforge.store.bus import BusConnection, BusError, _call_message, _Message
from sigilforge.testing.home import Isolated

ATTRIBUTES = {"xdg:schema": "org.sigilforge.Token1", "service": "é-svc", "account": "a"}


_KEY = bytes(range(128))


@pytest.mark.parametrize(
    ("signature", "body", "as_dbus_fast_reads_it"),
    [
        ("a{ss}", [ATTRIBUTES], [ATTRIBUTES]),
        ("aoo", [["/c/login/1", "/c/login/2"], "/s/3"], [["/c/login/1", "/c/login/2"], "/s/3"]),
        ("sv", ["dh", ("ay", _KEY)], ["dh", Variant("ay", _KEY)]),
        ("ss", ["org.freedesktop.Secret.Collection", "Locked"], None),
        ("", [], []),
    ],
)
def test_a_call_reads_back_the_same_in_dbus_fast(
    signature: str, body: list[Any], as_dbus_fast_reads_it: list[Any] | None
) -> None:
    data = _call_message(7, "org.freedesktop.secrets", "/p", "i.f", "Member", signature, body)
    parsed = Unmarshaller(io.BytesIO(data)).unmarshall()
    assert parsed is not None
    assert (parsed.serial, parsed.destination, parsed.path) == (7, "org.freedesktop.secrets", "/p")
    assert (parsed.interface, parsed.member, parsed.signature) == ("i.f", "Member", signature)
    assert parsed.body == (body if as_dbus_fast_reads_it is None else as_dbus_fast_reads_it)


@pytest.mark.parametrize("big_endian", [False, True])
def test_a_secrets_reply_from_dbus_fast_reads_back_the_same(big_endian: bool) -> None:
    secrets = {
        "/org/freedesktop/secrets/collection/login/17": (
            "/s/3",
            b"\1" * 16,
            b"\2" * 33,
            "text/plain",
        )
    }
    reply = Message(
        message_type=MessageType.METHOD_RETURN,
        reply_serial=5,
        destination=":1.9",
        sender=":1.2",
        signature="a{o(oayays)}",
        body=[secrets],
    )
    data = reply._marshall(False)
    if big_endian:
        data = _as_big_endian(reply)
    parsed = _Message(data)
    assert parsed.reply_serial == 5
    assert parsed.body == [secrets]


def _as_big_endian(message: Message) -> bytes:
    # dbus-fast writes little-endian only; jeepney can write either.
    from jeepney.low_level import Endianness, Header, HeaderFields
    from jeepney.low_level import Message as JeepneyMessage
    from jeepney.low_level import MessageType as JeepneyType

    header = Header(
        Endianness.big,
        JeepneyType.method_return,
        0,
        1,
        0,
        9,
        {
            HeaderFields.reply_serial: message.reply_serial,
            HeaderFields.signature: message.signature,
        },
    )
    return JeepneyMessage(header, tuple(message.body)).serialise()


def test_an_error_reply_is_a_bus_error_with_its_name(bare_bus: Isolated) -> None:
    bus = BusConnection(bare_bus.bus.address, timeout=5)
    try:
        with pytest.raises(BusError) as caught:
            bus.call("org.freedesktop.secrets", "/", "org.freedesktop.Secret.Service", "Nope")
        assert caught.value.name == "org.freedesktop.DBus.Error.ServiceUnknown"
        # The connection goes on serving calls after an error.
        (names,) = bus.call(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"
        )
        assert "org.freedesktop.DBus" in names
    finally:
        bus.close()


def test_pipelined_calls_each_get_their_own_reply(bare_bus: Isolated) -> None:
    bus = BusConnection(bare_bus.bus.address, timeout=5)
    dbus = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
    try:
        first = bus.send(*dbus, "NameHasOwner", "s", ["org.freedesktop.DBus"])
        second = bus.send(*dbus, "NameHasOwner", "s", ["org.example.Nobody"])
        # Asked for in the other order: the first reply is kept until it is wanted.
        assert bus.reply(second) == [False]
        assert bus.reply(first) == [True]
    finally:
        bus.close()


def test_a_refused_authentication_is_an_os_error(tmp_path: Any) -> None:
    import socket
    import threading

    path = str(tmp_path / "refusing")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def refuse() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"REJECTED EXTERNAL\r\n")
        conn.close()

    thread = threading.Thread(target=refuse)
    thread.start()
    bus = BusConnection(f"unix:path={path}", timeout=5)
    try:
        with pytest.raises(OSError, match="refused"):
            bus.call(
                "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"
            )
    finally:
        bus.close()
        thread.join(5)
        server.close()
