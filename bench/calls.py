"""The D-Bus calls the benchmark times, all made by one dbus-fast client library.

Each call checks its reply (a method return carrying the expected value), so a figure
can never be the speed of an error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from bench.peers import FLOOR_SCHEMA, GOA_NAME, GOA_OAUTH2, GOA_PATH, GOA_TOKEN
from bench.rigs import BUS_NAME, INTERFACE, OBJECT_PATH

ECHO_NAME = "org.sigilforge.BenchEcho"
ECHO_PATH = "/org/sigilforge/BenchEcho"
SERVICE = "openai"
TIMEOUT = 30.0


@dataclass(frozen=True)
class Call:
    """One method call and the first reply value it must produce (None: any)."""

    label: str
    message: Message
    expect: Any = None

    async def on(self, bus: MessageBus) -> Any:
        reply = await asyncio.wait_for(bus.call(self.message), TIMEOUT)
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            detail = reply and (reply.error_name, reply.body)
            raise RuntimeError(f"{self.label} failed: {detail}")
        if self.expect is not None and reply.body[0] != self.expect:
            raise RuntimeError(f"{self.label} answered {reply.body[0]!r}, not {self.expect!r}")
        return reply.body


def account_name(i: int) -> str:
    return f"a{i:04d}"


def api_key(i: int) -> str:
    return f"sk-bench-{i:04d}-0123456789abcdef"


def _to_broker(member: str, signature: str = "", body: list[Any] | None = None) -> Message:
    return Message(
        destination=BUS_NAME,
        path=OBJECT_PATH,
        interface=INTERFACE,
        member=member,
        signature=signature,
        body=body or [],
    )


def _to_echo(member: str, signature: str = "", body: list[Any] | None = None) -> Message:
    return Message(
        destination=ECHO_NAME,
        path=ECHO_PATH,
        interface=ECHO_NAME,
        member=member,
        signature=signature,
        body=body or [],
    )


def get_token(i: int) -> Call:
    return Call("GetToken", _to_broker("GetToken", "ss", [SERVICE, account_name(i)]), api_key(i))


def list_accounts() -> Call:
    return Call("ListAccounts", _to_broker("ListAccounts"))


def goa_access_token() -> Call:
    msg = Message(
        destination=GOA_NAME, path=GOA_PATH, interface=GOA_OAUTH2, member="GetAccessToken"
    )
    return Call("GOA GetAccessToken", msg, GOA_TOKEN)


def echo() -> Call:
    return Call("Echo", _to_echo("Echo", "s", [SERVICE]), SERVICE)


def echo_token(i: int) -> Call:
    """GetToken's shape from the echo service: ``(ss) -> (sx)``, a reply as long."""
    return Call("Token", _to_echo("Token", "ss", [SERVICE, account_name(i)]), api_key(0))


def echo_rows() -> Call:
    """The rows the echo service holds (see ``hold_rows``)."""
    return Call("Rows", _to_echo("Rows"))


def hold_rows(rows: list[Any]) -> Call:
    return Call("Hold", _to_echo("Hold", "aa{sv}", [rows]))


SECRETS_NAME = "org.freedesktop.secrets"
_SECRETS = "org.freedesktop.Secret"


async def plain_secret_session(bus: MessageBus) -> str:
    """A Secret Service session without encryption, for the floor's own items (a
    private bus and dummy secrets): the keyring's work per item, no key exchange."""
    msg = Message(
        destination=SECRETS_NAME,
        path="/org/freedesktop/secrets",
        interface=f"{_SECRETS}.Service",
        member="OpenSession",
        signature="sv",
        body=["plain", Variant("s", "")],
    )
    _output, path = await Call("OpenSession", msg).on(bus)
    return str(path)


def create_item(session: str, n: int) -> Call:
    """``CreateItem`` of floor item ``n`` in the default collection, straight from this
    client: gnome-keyring's own cost per item written, nobody else's code around it.
    With ``replace`` set, as ``secret-tool store`` (libsecret) and the broker store a
    secret under its attributes: the keyring then also looks for an item to replace."""
    properties = {
        f"{_SECRETS}.Item.Label": Variant("s", f"bench floor item {n}"),
        f"{_SECRETS}.Item.Attributes": Variant(
            "a{ss}", {"xdg:schema": FLOOR_SCHEMA, "item": str(n)}
        ),
    }
    msg = Message(
        destination=SECRETS_NAME,
        path="/org/freedesktop/secrets/aliases/default",
        interface=f"{_SECRETS}.Collection",
        member="CreateItem",
        signature="a{sv}(oayays)b",
        body=[properties, [session, b"", f"floor-{n}".encode(), "text/plain"], True],
    )
    return Call("CreateItem", msg)


async def clear_floor(bus: MessageBus) -> None:
    """Delete every floor item, so that the keyring holds the accounts' items alone
    whenever an add is timed."""
    search = Message(
        destination=SECRETS_NAME,
        path="/org/freedesktop/secrets",
        interface=f"{_SECRETS}.Service",
        member="SearchItems",
        signature="a{ss}",
        body=[{"xdg:schema": FLOOR_SCHEMA}],
    )
    unlocked, locked = await Call("SearchItems", search).on(bus)
    for path in [*unlocked, *locked]:
        delete = Message(
            destination=SECRETS_NAME, path=path, interface=f"{_SECRETS}.Item", member="Delete"
        )
        await Call("Delete", delete).on(bus)


async def owner_pid(bus: MessageBus, name: str) -> int | None:
    msg = Message(
        destination="org.freedesktop.DBus",
        path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus",
        member="GetConnectionUnixProcessID",
        signature="s",
        body=[name],
    )
    reply = await asyncio.wait_for(bus.call(msg), TIMEOUT)
    if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
        return None
    return int(reply.body[0])
