"""``org.sigilforge.Broker1``: a thin dbus-fast adapter over ``Broker``.

The broker is synchronous; its calls run in a thread pool so one slow Secret Service
or provider never stalls the bus. The exception is a ``GetToken`` that memory can answer:
it is answered straight from the message hook on the event loop, without a task or a
thread hop, its reply encoded and written with the others of the same read (``replies``),
which is what keeps a cached token as cheap as an echo. One it cannot answer goes from
the hook to the pool, without a task either: a thread hop each way is all a cache miss
adds to its two Secret Service round trips.

The message hook also does what dbus-fast's dispatch cannot: it turns a call with the
wrong argument types, or an argument bigger than ``limits`` allows, into ``InvalidArgs``
(dbus-fast would say ``UnknownMethod``, or carry the string into the broker),
remembers who is calling (for AddAccount's request path), and notes activity for the
idle timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dbus_fast import DBusError, Message, MessageType, Variant
from dbus_fast import introspection as intr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from sigilforge._version import __version__
from sigilforge.dbus.caller import CALLER
from sigilforge.dbus.errors import describe_unexpected, reply_for
from sigilforge.dbus.interface import annotate, members, property_spec
from sigilforge.dbus.limits import Limits, other_complaint
from sigilforge.dbus.names import INTERFACE, OBJECT_PATH
from sigilforge.dbus.replies import Replies, expects_reply
from sigilforge.errors import InvalidArgument, SigilforgeError
from sigilforge.events import AccountAdded, AccountRemoved, Event, ReauthRequired, TokenRefreshed

# What only ListAccounts, AddAccount and RemoveAccount use is imported by their first
# call: a daemon activated by a GetToken answers it without loading them.
if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

    from sigilforge.dbus.listing import Listing
    from sigilforge.dbus.requests import Requests
    from sigilforge.model import AccessToken, Account, AddOptions, Removal
    from sigilforge.pending import Pending

__all__ = ["Activity", "BrokerInterface", "BrokerPort"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class BrokerPort(Protocol):
    """What this adapter calls on the broker, and nothing else: ``Broker`` satisfies it,
    and so must any stand-in (the tests' scripted broker is checked against it)."""

    def cached_token(self, service: str, account: str) -> tuple[AccessToken, int] | None: ...
    def cache_unchanged_since(self, epoch: int) -> bool: ...
    def get_token(self, service: str, account: str) -> AccessToken: ...
    def refresh_token(self, service: str, account: str) -> AccessToken: ...
    def list_accounts(self) -> list[Account]: ...
    def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> Pending[Account]: ...
    def remove_account(self, service: str, account: str) -> Removal: ...
    def resolve(self, reference: str) -> str: ...
    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]: ...


def _method(name: str) -> Callable[[Callable[..., Any]], Any]:
    """``dbus_method`` with the types of the shipped XML."""

    def apply(fn: Callable[..., Any]) -> Any:
        return dbus_method(name=name)(annotate(INTERFACE, name)(fn))

    return apply


def _signal(name: str) -> Callable[[Callable[..., Any]], Any]:
    """``dbus_signal`` with the types of the shipped XML."""

    def apply(fn: Callable[..., Any]) -> Any:
        return dbus_signal(name=name)(annotate(INTERFACE, name)(fn))

    return apply


def _read_only_property(name: str) -> Callable[[Callable[..., Any]], Any]:
    """``dbus_property`` with the type of the shipped XML."""

    def apply(fn: Callable[..., Any]) -> Any:
        fn.__annotations__ = {"return": property_spec(INTERFACE, name)[0]}
        return dbus_property(name=name, access=PropertyAccess.READ)(fn)

    return apply


class Activity:
    """When the last call came and how many are still running, for the idle timer."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.running = 0

    def touch(self) -> None:
        self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.running else time.monotonic() - self.last


class BrokerInterface(ServiceInterface):
    """Export it, call ``install`` with the bus, then ``attach`` the broker once the bus
    name is ours (calls that come in between wait for it)."""

    def __init__(self, executor: Executor) -> None:
        super().__init__(INTERFACE)
        self._executor = executor
        self._broker: BrokerPort | None = None
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._requests: Requests | None = None
        self._replies: Replies | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._bus: MessageBus | None = None
        self._listing: Listing | None = None
        self._answering: set[asyncio.Task[None]] = set()
        # Looked up once: the hook runs for every message the bus delivers.
        # Each method's in-signature, by name (signals are not called).
        self._signatures = {
            name: spec.in_signature for name, spec in members(INTERFACE).items() if not spec.signal
        }
        self._limits = Limits(INTERFACE)
        self.activity = Activity()

    def introspect(self) -> intr.Interface:
        # dbus-fast names in-arguments only; the rest of the names come from the XML.
        interface = super().introspect()
        spec = members(INTERFACE)
        for method in interface.methods:
            for arg, xml_arg in zip(method.out_args, spec[method.name].out_args, strict=True):
                arg.name = xml_arg.name
        for signal in interface.signals:
            for arg, xml_arg in zip(signal.args, spec[signal.name].out_args, strict=True):
                arg.name = xml_arg.name
        for prop in interface.properties:
            prop.annotations.update(property_spec(INTERFACE, prop.name)[1])
        return interface

    # -- wiring --------------------------------------------------------------------------

    def install(self, bus: MessageBus) -> None:
        bus.export(OBJECT_PATH, self)
        self._bus = bus
        self._replies = Replies(bus, self._cache_unchanged_since, self._redo)
        bus.add_message_handler(self._hook)

    def attach(self, broker: BrokerPort) -> None:
        self._broker = broker
        self._unsubscribe = broker.subscribe(self._on_event)
        self._ready.set()

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._requests is not None:
            self._requests.cancel_all()

    @property
    def open_requests(self) -> int:
        return 0 if self._requests is None else len(self._requests)

    def _hook(self, msg: Message) -> Message | bool | None:
        # Runs for every message the bus delivers, and answers cached GetToken calls: each
        # step costs every caller, so tables are looked up once (``__init__``) and the
        # common case goes first.
        if msg.message_type is not _METHOD_CALL:
            if self._requests is not None:
                self._requests.on_message(msg)
            return None
        if msg.path != OBJECT_PATH:
            if self._requests is not None and self._requests.owns(msg.path):
                self.activity.touch()
                CALLER.set(msg.sender or "")
            return None
        self.activity.touch()
        member = msg.member or ""
        expected = self._signatures.get(member)
        interface = msg.interface
        if expected is None or (interface is not None and interface != INTERFACE):
            too_big = other_complaint(member, msg.body)
            return None if too_big is None else _invalid_args(msg, too_big)
        if msg.signature != expected:
            return _invalid_args(msg, f"{member} takes ({expected}), not ({msg.signature})")
        body = msg.body
        too_big = self._limits.complaint(member, body)
        if too_big is not None:
            return _invalid_args(msg, too_big)
        if member == "GetToken":
            broker = self._broker
            if broker is not None:
                try:
                    cached = broker.cached_token(body[0], body[1])
                except Exception:
                    # The full path below will hit the same problem and report it properly.
                    cached = None
                if cached is not None and self._replies is not None:
                    token, epoch = cached
                    self._replies.send_token(msg, token.token, token.expires_at or 0, epoch)
                    return True
                if self._answer_miss(msg, broker):
                    return True
        elif member == "ListAccounts":
            task = self._loop.create_task(self._answer_listing(msg))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
            return True
        CALLER.set(msg.sender or "")
        return None

    # -- calling the broker --------------------------------------------------------------

    async def _run(self, fn: Callable[[BrokerPort], T]) -> T:
        """``fn(broker)`` in the pool; any failure becomes a named error reply."""
        self.activity.running += 1
        try:
            if self._broker is None:
                await asyncio.wait_for(self._ready.wait(), timeout=30)
            assert self._broker is not None
            return await self._loop.run_in_executor(
                self._executor, functools.partial(fn, self._broker)
            )
        except Exception as exc:
            raise _as_dbus_error(exc) from None
        finally:
            self.activity.running -= 1
            self.activity.touch()

    def _answer_miss(self, msg: Message, broker: BrokerPort) -> bool:
        """A ``GetToken`` memory cannot answer, straight to the pool; the reply goes out
        from its completion. A method call's task and dispatch cost a cache miss more
        than the thread hop each way it needs. False: the pool is shutting down."""
        service, account = msg.body
        try:
            future = self._executor.submit(broker.get_token, service, account)
        except RuntimeError:
            return False
        self.activity.running += 1
        loop = self._loop

        def done(future: Future[AccessToken]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to answer
                loop.call_soon_threadsafe(self._send_token, msg, future)

        future.add_done_callback(done)
        return True

    def _send_token(self, msg: Message, future: Future[AccessToken]) -> None:
        self.activity.running -= 1
        self.activity.touch()
        if future.cancelled():
            return  # the daemon is leaving and took the pool down
        try:
            token = future.result()
        except Exception as exc:
            self._send_error(msg, exc)
            return
        if self._replies is not None:
            self._replies.send_token(msg, token.token, token.expires_at or 0, None)

    def _cache_unchanged_since(self, epoch: int) -> bool:
        broker = self._broker
        return broker is not None and broker.cache_unchanged_since(epoch)

    def _redo(self, msg: Message) -> None:
        """A ``GetToken`` answered from memory as ``accounts.json`` changed: the pool
        answers it afresh (a change is rare; nothing is sent from what memory said)."""
        broker = self._broker
        if broker is None or not self._answer_miss(msg, broker):
            self._send_error(msg, SigilforgeError("the daemon is stopping; call again"))

    def _send_error(self, msg: Message, exc: Exception) -> None:
        error = _as_dbus_error(exc)
        if self._bus is not None and expects_reply(msg):
            self._bus.send(Message.new_error(msg, error.type, error.text))

    async def _answer_listing(self, msg: Message) -> None:
        """``ListAccounts`` with the reply body encoded once per list (``Listing``)."""
        from sigilforge.dbus.listing import SIGNATURE, EncodedReply, Listing

        if self._listing is None:
            self._listing = Listing()
        listing = self._listing
        try:
            body = await self._run(lambda b: listing.body(b.list_accounts()))
            reply: Message = EncodedReply(msg, SIGNATURE, body)
        except DBusError as exc:
            reply = Message.new_error(msg, exc.type, exc.text)
        if self._bus is not None and expects_reply(msg):
            self._bus.send(reply)

    # -- methods -------------------------------------------------------------------------

    @_method("GetToken")
    async def get_token(self, service: str, account: str) -> list[Any]:
        # Reached only when the hook could not answer: before the broker is attached, or
        # while the pool shuts down.
        token = await self._run(lambda b: b.get_token(service, account))
        return [token.token, token.expires_at or 0]

    @_method("RefreshToken")
    async def refresh_token(self, service: str, account: str) -> list[Any]:
        token = await self._run(lambda b: b.refresh_token(service, account))
        return [token.token, token.expires_at or 0]

    @_method("ListAccounts")
    async def list_accounts(self) -> list[dict[str, Variant]]:
        # Declared for introspection; the hook answers every call (``_answer_listing``).
        from sigilforge.dbus.listing import account_rows

        return account_rows(await self._run(lambda b: b.list_accounts()))

    @_method("AddAccount")
    async def add_account(
        self,
        service: str,
        account: str,
        options: dict[str, Variant],
    ) -> list[Any]:
        from sigilforge.dbus.options import parse_add_options
        from sigilforge.dbus.requests import Requests

        caller = CALLER.get()
        if self._requests is None:
            assert self._bus is not None  # installed before any call
            self._requests = Requests(self._bus, self.activity)
        requests = self._requests
        try:
            parsed = parse_add_options({k: (v.signature, v.value) for k, v in options.items()})
            path = requests.reserve(caller, parsed.handle_token)
        except SigilforgeError as exc:
            raise _as_dbus_error(exc) from None
        try:
            pending = await self._run(lambda b: b.add_account(service, account, parsed.options))
        except BaseException:
            requests.release(path)
            raise
        await requests.open(path, caller, pending)
        task = asyncio.current_task()
        # The Response may only follow the reply carrying the handle: dbus-fast sends the
        # reply from a done-callback registered before ours, so ours runs after it.
        assert task is not None
        task.add_done_callback(lambda _t: requests.arm(path))
        prompt = {k: Variant("s", v) for k, v in pending.prompt.items()}
        return [path, prompt]

    @_method("RemoveAccount")
    async def remove_account(self, service: str, account: str) -> dict[str, Variant]:
        from sigilforge.dbus.wire import removal_to_wire

        removal = await self._run(lambda b: b.remove_account(service, account))
        if removal.note:
            log.info("removed %s/%s: %s", service, account, removal.note)
        return {
            name: Variant(sig, value) for name, (sig, value) in removal_to_wire(removal).items()
        }

    @_method("Resolve")
    async def resolve(self, reference: str) -> str:
        return await self._run(lambda b: b.resolve(reference))

    @_read_only_property("Version")
    def version(self) -> str:
        return __version__

    # -- signals -------------------------------------------------------------------------

    @_signal("TokenRefreshed")
    def token_refreshed(self, service: str, account: str, expires_at: int) -> list[Any]:
        return [service, account, expires_at]

    @_signal("AccountAdded")
    def account_added(self, service: str, account: str) -> list[str]:
        return [service, account]

    @_signal("AccountRemoved")
    def account_removed(self, service: str, account: str) -> list[str]:
        return [service, account]

    @_signal("ReauthRequired")
    def reauth_required(self, service: str, account: str, reason: str) -> list[str]:
        return [service, account, reason]

    def _on_event(self, event: Event) -> None:
        # Broker events fire in whichever thread did the work; signals go out on the loop.
        self._loop.call_soon_threadsafe(self._emit, event)

    def _emit(self, event: Event) -> None:
        if self._replies is not None and not isinstance(event, AccountAdded):
            self._replies.forget()
        match event:
            case TokenRefreshed(service, account, expires_at):
                self.token_refreshed(service, account, expires_at)
            case AccountAdded(service, account):
                self.account_added(service, account)
            case AccountRemoved(service, account):
                self.account_removed(service, account)
            case ReauthRequired(service, account, reason):
                self.reauth_required(service, account, reason)


_METHOD_CALL = MessageType.METHOD_CALL


def _invalid_args(msg: Message, why: str) -> Message:
    # Answered from the hook: nothing of the call reaches a task, the pool or the broker.
    name, text = reply_for(InvalidArgument(why))
    return Message.new_error(msg, name, text)


def _as_dbus_error(exc: BaseException) -> DBusError:
    name, message = reply_for(exc)
    if isinstance(exc, SigilforgeError):
        log.info("call failed: %s", name.rsplit(".", 1)[-1])
    else:
        # Where it happened stays here, in the daemon's log; the caller gets a fixed text.
        log.error("unexpected error in a call: %s", describe_unexpected(exc))
    return DBusError(name, message)
