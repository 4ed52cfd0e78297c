"""Serve ``org.sigilforge.Broker1`` on the session bus until stopped or idle.

Order matters at start: the object is exported before the name is requested, so a call
the bus queued for us during activation finds it; the broker (and with it the store) is
opened only once the name is ours, so a daemon that loses the race touches nothing (but
the Secret Service session the daemon asks for ahead, which reads nothing); if it
cannot open (a typo in ``config.toml``), the daemon stays and answers every call with that
named error, trying again on each (``sigilforge.dbus.opening``).
Then the broker's proactive refresh starts: while we run, OAuth tokens are refreshed
before they expire and ``TokenRefreshed`` goes out without anyone calling. It works on
the broker directly, not through the interface, so it never counts as activity: a daemon
nobody calls still leaves when idle. At the end the name is released first, so a call
that comes while we wind down starts a fresh daemon instead of reaching one that is
leaving; the refresh stops before the broker closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from dbus_fast import BusType
from dbus_fast.aio import MessageBus
from dbus_fast.constants import NameFlag, RequestNameReply

from sigilforge.dbus.errors import no_session_bus
from sigilforge.dbus.names import BUS_NAME
from sigilforge.dbus.opening import OpeningBroker
from sigilforge.dbus.service import BrokerInterface
from sigilforge.errors import SigilforgeError
from sigilforge.refresh_timer import start_refresh_timer

if TYPE_CHECKING:
    from sigilforge.broker import Broker

__all__ = ["Outcome", "serve"]

log = logging.getLogger(__name__)

_BUS_TIMEOUT = 10.0
_DRAIN_TIMEOUT = 5.0
# After the drain: how long callers of refreshes left to their processes get to be answered.
_LAST_ANSWERS = 1.0
# The refresh thread wakes at least this often, so a suspend delays a refresh by at most
# this much after resume (its schedule is on the wall clock).
_REFRESH_MAX_SLEEP = 60.0
# Its first look at the tokens waits this long: the call that activated us comes first
# (a call does its own refresh of a token that is due, so nothing waits for the timer).
_REFRESH_FIRST_AFTER = 0.5
# A call that waits (a refresh on a slow provider, the refreshes queued behind it on the
# account's lock, a revocation) holds a thread for up to its deadline: with only a few,
# a handful of those left ListAccounts and every cache miss waiting too. Threads start
# only when calls overlap, so an idle daemon stays as small as with four.
_WORKERS = 32


class Outcome(enum.Enum):
    IDLE = "idle"
    STOPPED = "stopped"
    NAME_TAKEN = "name-taken"
    DISCONNECTED = "disconnected"


async def serve(
    open_broker: Callable[[], Broker],
    *,
    stop: asyncio.Event,
    idle_timeout: float | None = None,
) -> Outcome:
    """``idle_timeout``: seconds without calls before exiting; None takes the broker
    config's ``idle_timeout_secs``; 0 never exits on its own."""
    try:
        bus = await asyncio.wait_for(
            MessageBus(bus_type=BusType.SESSION, negotiate_unix_fd=False).connect(), _BUS_TIMEOUT
        )
    except (OSError, ValueError, KeyError, TimeoutError) as exc:
        raise no_session_bus(exc) from None
    executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="sigilforge")
    interface = BrokerInterface(executor)
    interface.install(bus)
    broker = OpeningBroker(
        open_broker,
        lambda b: start_refresh_timer(
            b, max_sleep=_REFRESH_MAX_SLEEP, first_after=_REFRESH_FIRST_AFTER
        ),
    )
    try:
        reply = await asyncio.wait_for(
            bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE), _BUS_TIMEOUT
        )
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            log.info("another broker owns %s; leaving it be", BUS_NAME)
            return Outcome.NAME_TAKEN
        # A named error (a typo in config.toml) leaves us up, answering with it.
        with contextlib.suppress(SigilforgeError):
            broker.try_open()
        interface.attach(broker)
        timeout = broker.config.idle_timeout_secs if idle_timeout is None else idle_timeout
        log.info("serving %s (idle timeout %s)", BUS_NAME, f"{timeout:g}s" if timeout else "off")
        outcome = await _run_until_done(bus, interface, broker, stop, timeout)
        log.info("stopping: %s", outcome.value)
        if broker.has_unsaved():
            await asyncio.to_thread(broker.save_unsaved)
            if broker.has_unsaved():
                log.warning("leaving with refreshed tokens the store refused: sign in again")
        await _wind_down(bus, interface, broker)
        return outcome
    finally:
        interface.detach()
        bus.disconnect()
        executor.shutdown(wait=False, cancel_futures=True)
        # It joins the refresh thread (bounded); a refresh in flight must not block the loop.
        await asyncio.get_running_loop().run_in_executor(None, broker.close)


# How often tokens the store refused (locked) are offered to it again.
_UNSAVED_RETRY = 1.0
_LOOK_AGAIN = 5.0


async def _run_until_done(
    bus: MessageBus,
    interface: BrokerInterface,
    broker: OpeningBroker,
    stop: asyncio.Event,
    timeout: float,
) -> Outcome:
    stopped = asyncio.ensure_future(stop.wait())
    gone = asyncio.ensure_future(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
    try:
        while True:
            wait: float | None = None
            unsaved = broker.has_unsaved()
            if unsaved:
                # Refreshed tokens only in memory: never leave idle, save them when the
                # store takes them (DESIGN 5).
                await asyncio.to_thread(broker.save_unsaved)
                unsaved = broker.has_unsaved()
            if timeout > 0:
                remaining = timeout - interface.activity.idle_for()
                if remaining <= 0 and interface.open_requests == 0 and not unsaved:
                    return Outcome.IDLE
                # A flow in progress keeps us up; look again shortly.
                wait = max(remaining, 0.5)
            # Short while tokens wait to be saved; otherwise every few seconds, so a set
            # the store refuses in the middle of a long wait is noticed soon.
            step = _UNSAVED_RETRY if unsaved else _LOOK_AGAIN
            wait = step if wait is None else min(wait, step)
            done, _ = await asyncio.wait(
                {stopped, gone}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if stopped in done:
                return Outcome.STOPPED
            if gone in done:
                return Outcome.DISCONNECTED
    finally:
        for task in (stopped, gone):
            task.cancel()


async def _wind_down(bus: MessageBus, interface: BrokerInterface, broker: OpeningBroker) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(bus.release_name(BUS_NAME), _BUS_TIMEOUT)
    # Calls that reached us before the release still get their answer.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _DRAIN_TIMEOUT
    while interface.activity.running and loop.time() < deadline:
        await asyncio.sleep(0.02)
    if interface.activity.running:
        # A refresh taking longer runs in a process of its own and saves without us:
        # its callers get a named error now rather than no answer.
        broker.close_refreshes()
        deadline = loop.time() + _LAST_ANSWERS
        while interface.activity.running and loop.time() < deadline:
            await asyncio.sleep(0.02)
    # A call counts as done just before dbus-fast sends its reply from the task's done
    # callback, already queued on the loop: one turn lets those replies out before the
    # bus is disconnected.
    await asyncio.sleep(0)
