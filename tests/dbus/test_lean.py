"""The CLI's minimal D-Bus client against the real thing: jeepney reads what it writes and
it reads what jeepney writes, it talks to a real dbus-daemon, and its signature table is
the shipped XML's."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, new_method_call, new_method_return
from jeepney.low_level import Endianness, Header, HeaderFields, Message, MessageType, Parser

from sigilforge.dbus import interface, lean, rows, signatures
from sigilforge.dbus.blocking import BlockingClient
from sigilforge.dbus.errors import Unreachable
from sigilforge.model import Account, AccountStatus
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import run_cli_in
from sigilforge.testing.env import isolated_env

_OPTIONS = {
    "api_key": ("s", "k\u00e9y"),
    "scopes": ("as", ["a", "bb", ""]),
    "timeout": ("x", -(2**40)),
    "open_browser": ("b", True),
    "nested": ("v", ("(ut)", (7, 2**63))),
}


def test_the_signature_table_is_generated_from_the_shipped_xml() -> None:
    # Fails when the XML changed and `python -m sigilforge.dbus.interface` was not run.
    assert Path(signatures.__file__).read_text() == interface.signatures_source()
    assert signatures.IN_SIGNATURES["org.sigilforge.Broker1"]["GetToken"] == "ss"


def test_rows_know_every_account_status_of_the_model() -> None:
    assert set(rows.STATUSES) == {s.value for s in AccountStatus}


def test_a_row_is_what_the_model_would_print() -> None:
    wire: dict[str, Any] = {"service": "openai", "account": "work", "kind": "api_key"}
    wire["status"] = "ok"
    wire |= {"scopes": ["x"], "created_at": 5, "expires_at": 0, "provider": ""}
    row = rows.account_row(wire)
    account = Account.from_dict(row)
    assert account.to_dict() == row
    # A status from a newer daemon reads as unavailable, never as ok.
    assert rows.account_row(wire | {"status": "future"})["status"] == "unavailable"


@pytest.mark.parametrize(
    ("signature", "body"),
    [
        ("", ()),
        ("ss", ("openai", "w\u00f6rk")),
        ("ssa{sv}", ("github", "you", _OPTIONS)),
        ("aa{sv}", ([_OPTIONS, {}, {"x": ("ay", [0, 255])}],)),
        ("a(sx)ydnqi", ([("a", 1), ("", -1)], 255, 0.5, -3, 65535, -(2**31))),
    ],
)
def test_jeepney_reads_what_it_sends(signature: str, body: tuple[Any, ...]) -> None:
    raw = lean._message(
        7, "org.example.Dest", "/org/example", "org.example.I", "M", signature, body
    )
    parser = Parser()
    parser.add_data(raw)
    (msg,) = (parser.get_next_message(),)
    assert msg is not None
    assert msg.header.serial == 7
    assert msg.header.fields[HeaderFields.member] == "M"
    assert msg.header.fields[HeaderFields.destination] == "org.example.Dest"
    assert msg.header.fields.get(HeaderFields.signature, "") == signature
    assert _plain(msg.body) == _plain(body)


@pytest.mark.parametrize("order", ["<", ">"])
def test_it_reads_replies_jeepney_sends_in_either_byte_order(order: str) -> None:
    call = new_method_call(DBusAddress("/o", "org.x", "org.x"), "M")
    call.header.serial = 3
    reply = new_method_return(call, "aa{sv}x", ([_OPTIONS], 42))
    reply.header.endianness = Endianness.little if order == "<" else Endianness.big
    data = reply.serialise(serial=9)
    conn = lean.Connection.__new__(lean.Connection)
    conn._buf = bytearray(data)
    kind, fields, got_order, payload = conn._receive(deadline=float("inf"))
    assert (kind, fields[5], got_order) == (2, 3, order)
    reader = lean._Reader(payload, order)
    assert _plain((reader.read("aa{sv}"), reader.read("x"))) == _plain(([_OPTIONS], 42))


def test_calls_and_error_replies_on_a_real_bus(broker_rig: BrokerRig) -> None:
    conn = lean.Connection.open(broker_rig.bus.address, 5.0)
    try:
        (names,) = conn.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "ListNames",
            "",
            (),
            5.0,
        )
        assert "org.freedesktop.DBus" in names  # type: ignore[operator]
        with pytest.raises(lean.ErrorReply) as got:
            conn.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "GetNameOwner",
                "s",
                ("org.example.Nobody",),
                5.0,
            )
        assert got.value.name == "org.freedesktop.DBus.Error.NameHasNoOwner"
        assert conn.greeted
    finally:
        conn.close()


def test_bus_addresses() -> None:
    assert lean.session_bus_path("unix:path=/run/a%20b,guid=00") == "/run/a b"
    assert lean.session_bus_path("tcp:host=x,port=1;unix:abstract=/tmp/x") == "\0/tmp/x"
    for bad in ("tcp:host=x,port=1", "unix:path", "nonsense"):
        with pytest.raises(ValueError, match="D-Bus address"):
            lean.session_bus_path(bad)


@pytest.mark.parametrize("address", ["tcp:host=127.0.0.1,port=1", "unix:path=/nonexistent/bus"])
def test_an_unusable_bus_address_is_unreachable(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    with pytest.raises(Unreachable) as got:
        BlockingClient.connect(timeout=5).ping()
    assert got.value.message.startswith("no D-Bus session bus")


def _plain(value: Any) -> Any:
    # jeepney gives tuples for arrays of structs and lists elsewhere; compare shapes only.
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_a_garbled_reply_is_one_line_and_no_traceback(tmp_path: Path) -> None:
    # A "bus" that accepts the handshake, then answers the call with a string that is not
    # UTF-8: the fast path must end as the full CLI does on the unforeseen.
    reply = Message(
        Header(
            Endianness.little,
            MessageType.method_return,
            0,
            1,
            -1,
            5,
            {
                HeaderFields.reply_serial: 2,
                HeaderFields.signature: "s",
            },
        ),
        ("XXXX",),
    ).serialise()
    garbled = reply.replace(b"XXXX", b"\xff\xfe\xfd\xfc")
    path = str(tmp_path / "bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(30)

    def answer() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.settimeout(30)
                conn.recv(65536)  # AUTH, BEGIN, Hello and the call: one write
                conn.sendall(b"OK 0123456789abcdef\r\n" + garbled)
                conn.recv(1)  # until the client hangs up

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    home = tmp_path / "home"
    env = isolated_env(home) | {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={path}"}
    try:
        done = run_cli_in(env, "get-token", "openai", "work", timeout=60)
    finally:
        server.close()
        thread.join(30)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("sigilforge: unexpected error; details are in ")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr + done.stdout
