"""The D-Bus calls the benchmark times, all made by one dbus-fast client library.

Each call checks its reply (a method return carrying the expected value), so a figure
can never be the speed of an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


def _to(destination: str, path: str, interface: str) -> Callable[..., Message]:
    """A builder of calls to one object: ``(member, signature="", body=None) -> Message``."""

    def message(member: str, signature: str = "", body: list[Any] | None = None) -> Message:
        return Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body or [],
        )

    return message


_to_broker = _to(BUS_NAME, OBJECT_PATH, INTERFACE)
_to_echo = _to(ECHO_NAME, ECHO_PATH, ECHO_NAME)


def get_token(i: int) -> Call:
    return Call("GetToken", _to_broker("GetToken", "ss", [SERVICE, account_name(i)]), api_key(i))


def list_accounts() -> Call:
    return Call("ListAccounts", _to_broker("ListAccounts"))


def goa_access_token() -> Call:
    msg = _to(GOA_NAME, GOA_PATH, GOA_OAUTH2)("GetAccessToken")
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
_to_secrets = _to(SECRETS_NAME, "/org/freedesktop/secrets", f"{_SECRETS}.Service")
_to_default_collection = _to(
    SECRETS_NAME, "/org/freedesktop/secrets/aliases/default", f"{_SECRETS}.Collection"
)
_to_bus = _to("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


async def plain_secret_session(bus: MessageBus) -> str:
    """A Secret Service session without encryption, for the floor's own items (a
    private bus and dummy secrets): the keyring's work per item, no key exchange."""
    msg = _to_secrets("OpenSession", "sv", ["plain", Variant("s", "")])
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
    secret = [session, b"", f"floor-{n}".encode(), "text/plain"]
    msg = _to_default_collection("CreateItem", "a{sv}(oayays)b", [properties, secret, True])
    return Call("CreateItem", msg)


async def clear_floor(bus: MessageBus) -> None:
    """Delete every floor item, so that the keyring holds the accounts' items alone
    whenever an add is timed."""
    search = _to_secrets("SearchItems", "a{ss}", [{"xdg:schema": FLOOR_SCHEMA}])
    unlocked, locked = await Call("SearchItems", search).on(bus)
    for path in [*unlocked, *locked]:
        delete = _to(SECRETS_NAME, path, f"{_SECRETS}.Item")("Delete")
        await Call("Delete", delete).on(bus)


async def owner_pid(bus: MessageBus, name: str) -> int | None:
    msg = _to_bus("GetConnectionUnixProcessID", "s", [name])
    reply = await asyncio.wait_for(bus.call(msg), TIMEOUT)
    if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
        return None
    return int(reply.body[0])
