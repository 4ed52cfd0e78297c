"""AddAccount's Request objects: the xdg-desktop-portal Request pattern.

AddAccount replies at once with a handle; the flow's end is ``Response(u code, a{sv}
results)`` on that handle (0 success, 1 cancelled, 2 failed), after which the object
goes away. Only the caller may ``Cancel()``, and a caller that leaves the bus cancels
its flows: nobody would be there to finish a browser sign-in for it.

Each open flow holds a loopback listener and threads, so a caller may hold at most
``PER_CALLER`` of them and all callers together ``OVERALL``; past that AddAccount is
refused (``AccessDenied``, naming the limit) before anything is started.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dbus_fast import DBusError, Message, MessageType, Variant
from dbus_fast import introspection as intr
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

from sigilforge.dbus.caller import CALLER
from sigilforge.dbus.errors import describe_unexpected, reply_for
from sigilforge.dbus.interface import annotate, members
from sigilforge.dbus.names import (
    DBUS_INTERFACE,
    DBUS_NAME,
    DBUS_PATH,
    REQUEST_INTERFACE,
    REQUEST_ROOT,
    request_path,
    valid_handle_token,
)
from sigilforge.dbus.wire import response_to_wire
from sigilforge.errors import AccessDenied, InvalidArgument, SigilforgeError
from sigilforge.model import Account
from sigilforge.pending import Pending

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

__all__ = ["CALLER", "OVERALL", "PER_CALLER", "Requests"]

log = logging.getLogger(__name__)

# A person signs in to a few accounts at a time; one flooding caller must not take the
# daemon's file descriptors (a listener and threads per flow) from everyone else.
PER_CALLER = 4
OVERALL = 32


class _Toucher(Protocol):
    def touch(self) -> None: ...


class RequestObject(ServiceInterface):
    def __init__(self, requests: Requests, path: str) -> None:
        super().__init__(REQUEST_INTERFACE)
        self._requests = requests
        self._path = path

    def introspect(self) -> intr.Interface:
        # dbus-fast leaves signal arguments unnamed; the names are the XML's.
        interface = super().introspect()
        spec = members(REQUEST_INTERFACE)
        for signal in interface.signals:
            for arg, xml_arg in zip(signal.args, spec[signal.name].out_args, strict=True):
                arg.name = xml_arg.name
        return interface

    @dbus_method(name="Cancel")
    @annotate(REQUEST_INTERFACE, "Cancel")
    def cancel(self) -> None:
        self._requests.cancel(self._path, CALLER.get())

    @dbus_signal(name="Response")
    @annotate(REQUEST_INTERFACE, "Response")
    def response(self, response: int, results: dict[str, Variant]) -> list[Any]:
        return [response, results]


@dataclass
class _Request:
    caller: str
    obj: RequestObject | None = None
    pending: Pending[Account] | None = None


class Requests:
    def __init__(self, bus: MessageBus, activity: _Toucher) -> None:
        self._bus = bus
        self._activity = activity
        self._loop = asyncio.get_running_loop()
        self._open: dict[str, _Request] = {}
        self._watched: set[str] = set()
        self._counter = itertools.count(1)

    def __len__(self) -> int:
        return len(self._open)

    def owns(self, path: str | None) -> bool:
        return path is not None and path.startswith(REQUEST_ROOT + "/")

    def reserve(self, caller: str, handle_token: str | None) -> str:
        """Claim the handle path before the flow starts, so two calls cannot share it."""
        sender = caller or "unknown"  # a peer-to-peer caller has no bus name
        _check_caps(caller, [r.caller for r in self._open.values()])
        if handle_token is None:
            # A caller may have picked a token that looks like ours: skip past it.
            path = request_path(sender, f"sigilforge{next(self._counter)}")
            while path in self._open:
                path = request_path(sender, f"sigilforge{next(self._counter)}")
        elif not valid_handle_token(handle_token):
            raise InvalidArgument("handle_token must be 1-64 of A-Z, a-z, 0-9 and _")
        else:
            path = request_path(sender, handle_token)
            if path in self._open:
                raise InvalidArgument("handle_token is in use by another request of yours")
        self._open[path] = _Request(caller)
        return path

    def release(self, path: str) -> None:
        self._open.pop(path, None)

    async def open(self, path: str, caller: str, pending: Pending[Account]) -> None:
        request = self._open[path]
        request.pending = pending
        request.obj = RequestObject(self, path)
        self._bus.export(path, request.obj)
        if caller and caller not in self._watched:
            self._watched.add(caller)
            await self._call_bus("AddMatch", _owner_rule(caller))
            # It may have left before the rule was in place.
            reply = await self._call_bus("NameHasOwner", caller)
            if reply is not None and reply.body == [False]:
                self._caller_left(caller)

    def arm(self, path: str) -> None:
        """Start reporting: from here on the end of the flow becomes a Response."""
        request = self._open.get(path)
        if request is None or request.pending is None:
            return
        pending = request.pending
        loop = self._loop

        def report(done: Pending[Account]) -> None:
            # Flows end in worker threads; the Response goes out on the loop.
            loop.call_soon_threadsafe(self._finish, path, done)

        pending.add_done_callback(report)

    def cancel(self, path: str, caller: str) -> None:
        request = self._open.get(path)
        if request is None or request.pending is None:
            return
        if caller != request.caller:
            raise _access_denied()
        self._cancel_off_loop([request.pending])

    def cancel_all(self) -> None:
        for request in list(self._open.values()):
            if request.pending is not None:
                request.pending.cancel()

    def on_message(self, msg: Message) -> None:
        if (
            msg.message_type is MessageType.SIGNAL
            and msg.member == "NameOwnerChanged"
            and msg.sender == DBUS_NAME
            and len(msg.body) == 3
            and msg.body[0] in self._watched
            and not msg.body[2]
        ):
            self._caller_left(msg.body[0])

    def _caller_left(self, caller: str) -> None:
        pendings = [
            r.pending for r in self._open.values() if r.caller == caller and r.pending is not None
        ]
        if pendings:
            log.info("caller %s left the bus; cancelling its %d flow(s)", caller, len(pendings))
            self._cancel_off_loop(pendings)

    def _cancel_off_loop(self, pendings: list[Pending[Account]]) -> None:
        # Cancelling closes a loopback listener and joins the flow's threads: on the loop
        # it would hold every other caller's reply until the last thread ended.
        def cancel_each() -> None:
            for pending in pendings:
                pending.cancel()

        self._loop.run_in_executor(None, cancel_each)

    def _finish(self, path: str, pending: Pending[Account]) -> None:
        request = self._open.pop(path, None)
        if request is None or request.obj is None:
            return
        self._activity.touch()
        code, results = _response(pending)
        request.obj.response(code, results)
        self._bus.unexport(path, request.obj)
        caller = request.caller
        if caller in self._watched and all(r.caller != caller for r in self._open.values()):
            self._watched.discard(caller)
            self._loop.create_task(self._call_bus("RemoveMatch", _owner_rule(caller)))

    async def _call_bus(self, member: str, arg: str) -> Message | None:
        msg = Message(
            destination=DBUS_NAME,
            path=DBUS_PATH,
            interface=DBUS_INTERFACE,
            member=member,
            signature="s",
            body=[arg],
        )
        try:
            return await asyncio.wait_for(self._bus.call(msg), timeout=5)
        except (TimeoutError, OSError) as exc:
            log.warning("bus call %s failed: %s", member, type(exc).__name__)
            return None


def _response(pending: Pending[Account]) -> tuple[int, dict[str, Variant]]:
    exc = pending.exception()
    if exc is not None and not isinstance(exc, SigilforgeError):
        log.error("add-account flow failed unexpectedly: %s", describe_unexpected(exc))
    code, results = response_to_wire(pending.result(0) if exc is None else exc)
    return code, {name: Variant(sig, value) for name, (sig, value) in results.items()}


def _check_caps(caller: str, open_callers: list[str]) -> None:
    if len(open_callers) >= OVERALL:
        raise AccessDenied(
            f"too many sign-in flows open in the broker (limit {OVERALL}); retry later"
        )
    if caller and open_callers.count(caller) >= PER_CALLER:
        raise AccessDenied(
            f"too many sign-in flows open from this caller (limit {PER_CALLER});"
            " finish or cancel one first"
        )


def _owner_rule(name: str) -> str:
    return (
        f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_INTERFACE}',"
        f"member='NameOwnerChanged',arg0='{name}'"
    )


def _access_denied() -> DBusError:
    name, message = reply_for(AccessDenied("only the caller that started a flow may cancel it"))
    return DBusError(name, message)
