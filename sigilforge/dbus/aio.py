"""An asyncio client (dbus-fast) for applications that live on an event loop.

It raises the same ``sigilforge.errors`` classes as the in-process ``Broker``, and turns
the broker's signals back into ``sigilforge.events`` objects::

    client = await AsyncClient.connect()
    token = await client.get_token("github", "personal")
    request = await client.add_account("openai", "work", AddOptions(api_key=key))
    account = await request.result()

Private, like every name ``sigilforge/__init__`` does not export: its API may change
(the tests use it; library users have ``sigilforge.Broker``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from sigilforge.dbus.errors import error_from_reply, lost_session_bus, no_session_bus
from sigilforge.dbus.interface import members
from sigilforge.dbus.names import (
    BUS_NAME,
    CALL_TIMEOUT,
    DBUS_INTERFACE,
    DBUS_NAME,
    DBUS_PATH,
    INTERFACE,
    OBJECT_PATH,
    PROPERTIES_INTERFACE,
    REQUEST_INTERFACE,
    REQUEST_ROOT,
    request_path,
    sender_part,
)
from sigilforge.dbus.options import options_to_wire
from sigilforge.dbus.wire import account_from_wire, removal_from_wire, response_from_wire
from sigilforge.errors import SigilforgeError, Timeout
from sigilforge.events import AccountAdded, AccountRemoved, Event, ReauthRequired, TokenRefreshed
from sigilforge.model import AccessToken, Account, AddOptions, Removal

__all__ = ["AsyncClient", "AsyncRequest"]


class AsyncRequest:
    """A flow started by ``add_account``: ``prompt`` now, ``await result()`` later."""

    def __init__(self, client: AsyncClient, handle: str, prompt: dict[str, str]) -> None:
        self.handle = handle
        self.prompt = prompt
        self._client = client
        self._future: asyncio.Future[Account] = asyncio.get_running_loop().create_future()

    def _settle(self, code: int, results: dict[str, Variant]) -> None:
        if self._future.done():
            return
        try:
            account = response_from_wire(code, {k: v.value for k, v in results.items()})
        except SigilforgeError as error:
            self._future.set_exception(error)
        else:
            self._future.set_result(account)

    def _fail(self, error: SigilforgeError) -> None:
        if not self._future.done():
            self._future.set_exception(error)

    async def result(self, timeout: float | None = None) -> Account:
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            raise Timeout("still waiting for the flow to finish") from None

    async def cancel(self) -> None:
        signature = members(REQUEST_INTERFACE)["Cancel"].in_signature
        await self._client._call(
            "Cancel", signature, [], path=self.handle, interface=REQUEST_INTERFACE
        )


class AsyncClient:
    def __init__(self, bus: MessageBus, *, timeout: float = CALL_TIMEOUT) -> None:
        self._bus = bus
        self._timeout = timeout
        self._requests: dict[str, AsyncRequest] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._signals_matched = False
        self._responses_matched = False
        bus.add_message_handler(self._on_message)

    @classmethod
    async def connect(cls, *, timeout: float = CALL_TIMEOUT) -> AsyncClient:
        try:
            bus = await asyncio.wait_for(
                MessageBus(bus_type=BusType.SESSION, negotiate_unix_fd=False).connect(),
                min(timeout, 10.0),
            )
        except (OSError, ValueError, KeyError, TimeoutError) as exc:
            raise no_session_bus(exc) from None
        return cls(bus, timeout=timeout)

    def close(self) -> None:
        self._bus.remove_message_handler(self._on_message)
        self._bus.disconnect()

    async def _call(
        self,
        member: str,
        signature: str,
        body: list[Any],
        *,
        path: str = OBJECT_PATH,
        interface: str = INTERFACE,
        destination: str = BUS_NAME,
    ) -> list[Any]:
        msg = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body,
        )
        try:
            reply = await asyncio.wait_for(self._bus.call(msg), self._timeout)
        except TimeoutError:
            raise Timeout(f"the broker did not answer {member} in {self._timeout:g}s") from None
        except (OSError, EOFError) as exc:
            raise lost_session_bus(exc) from None
        assert reply is not None
        if reply.message_type is MessageType.ERROR:
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise error_from_reply(reply.error_name or "", text)
        return list(reply.body)

    async def _broker_call(self, member: str, body: list[Any]) -> list[Any]:
        """A method of our interface, typed as the shipped XML says."""
        return await self._call(member, members(INTERFACE)[member].in_signature, body)

    # -- the API -------------------------------------------------------------------------

    async def get_token(self, service: str, account: str) -> AccessToken:
        token, expires_at = await self._broker_call("GetToken", [service, account])
        return AccessToken(token, expires_at or None)

    async def refresh_token(self, service: str, account: str) -> AccessToken:
        token, expires_at = await self._broker_call("RefreshToken", [service, account])
        return AccessToken(token, expires_at or None)

    async def list_accounts(self) -> list[Account]:
        (rows,) = await self._broker_call("ListAccounts", [])
        return [account_from_wire({k: v.value for k, v in row.items()}) for row in rows]

    async def remove_account(self, service: str, account: str) -> Removal:
        (results,) = await self._broker_call("RemoveAccount", [service, account])
        return removal_from_wire({k: v.value for k, v in results.items()})

    async def resolve(self, reference: str) -> str:
        (value,) = await self._broker_call("Resolve", [reference])
        return str(value)

    async def version(self) -> str:
        (value,) = await self._call(
            "Get", "ss", [INTERFACE, "Version"], interface=PROPERTIES_INTERFACE
        )
        return str(value.value)

    async def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> AsyncRequest:
        """Start a flow; subscribed to its ``Response`` before the call, so even an
        API key (which completes at once) is reported."""
        token = "aio_" + secrets.token_hex(8)
        path = request_path(self._bus.unique_name or "", token)
        await self._match_responses()
        wire = {
            k: Variant(sig, v)
            for k, (sig, v) in options_to_wire(options or AddOptions(), token).items()
        }
        request = AsyncRequest(self, path, {})
        self._requests[path] = request
        try:
            handle, prompt = await self._broker_call("AddAccount", [service, account, wire])
        except BaseException:
            self._requests.pop(path, None)
            raise
        if handle != path:
            self._requests.pop(path, None)
            raise SigilforgeError("the broker answered with an unexpected request handle")
        request.prompt = {k: str(v.value) for k, v in prompt.items()}
        return request

    async def _match_responses(self) -> None:
        # One rule for every Request this connection will ever own, added before the
        # first AddAccount: a rule per call would pile up (the bus allows a few hundred
        # per connection) and cost a round trip each time.
        if self._responses_matched:
            return
        mine = f"{REQUEST_ROOT}/{sender_part(self._bus.unique_name or '')}"
        await self._add_match(
            f"type='signal',interface='{REQUEST_INTERFACE}',member='Response',"
            f"path_namespace='{mine}'"
        )
        self._responses_matched = True

    async def _add_match(self, rule: str) -> None:
        await self._call(
            "AddMatch",
            "s",
            [rule],
            path=DBUS_PATH,
            interface=DBUS_INTERFACE,
            destination=DBUS_NAME,
        )

    # -- signals -------------------------------------------------------------------------

    async def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with each broker signal as a ``sigilforge.events`` object."""
        if not self._signals_matched:
            rule = f"type='signal',sender='{BUS_NAME}',interface='{INTERFACE}',path='{OBJECT_PATH}'"
            await self._add_match(rule)
            self._signals_matched = True
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _on_message(self, msg: Message) -> bool:
        if msg.message_type is not MessageType.SIGNAL:
            return False
        if msg.interface == REQUEST_INTERFACE and msg.member == "Response":
            request = self._requests.pop(msg.path or "", None)
            if request is not None:
                try:
                    request._settle(msg.body[0], msg.body[1])
                except Exception:
                    # Whoever awaits the result must hear something, whatever went wrong.
                    request._fail(SigilforgeError("unreadable answer about the flow"))
            return False
        if msg.interface == INTERFACE and msg.path == OBJECT_PATH and self._listeners:
            event = _event(msg.member or "", msg.body)
            if event is not None:
                for listener in list(self._listeners):
                    listener(event)
        return False


def _event(member: str, body: list[Any]) -> Event | None:
    match member:
        case "TokenRefreshed":
            return TokenRefreshed(body[0], body[1], body[2])
        case "AccountAdded":
            return AccountAdded(body[0], body[1])
        case "AccountRemoved":
            return AccountRemoved(body[0], body[1])
        case "ReauthRequired":
            return ReauthRequired(body[0], body[1], body[2])
    return None
