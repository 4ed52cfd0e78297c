"""The daemon's proactive refresh: renew OAuth tokens before they fall due, in a thread.

It drives only the broker's public side (``next_refresh_at``, ``refresh_due``,
``subscribe``), so the broker stays a facade that knows nothing of timers. It sleeps
until the next token falls due but never longer than ``max_sleep`` and compares against
the wall clock on waking, so a suspend that stopped the sleep delays a refresh by at most
``max_sleep`` after resume. An added OAuth account wakes it (its ``AccountAdded`` event);
an API key, with nothing to refresh, does not: each wake-up looks over every account.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sigilforge.errors import SigilforgeError, describe_unexpected
from sigilforge.events import AccountAdded, Event, Listener

__all__ = ["RefreshSource", "start_refresh_timer"]

log = logging.getLogger(__name__)

# Never busier than this, even for a token that is due again at once.
_MIN_SLEEP = 0.2
# Bounded: a refresh in flight finishes within its own HTTP time limits or is abandoned.
_JOIN_TIMEOUT = 5.0


class RefreshSource(Protocol):
    """What the timer needs from the broker."""

    def next_refresh_at(self) -> float | None: ...

    def refresh_due(self) -> list[tuple[str, str]]: ...

    def refreshes(self, service: str, account: str) -> bool: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]: ...


def start_refresh_timer(
    broker: RefreshSource,
    *,
    max_sleep: float = 60.0,
    first_after: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> Callable[[], None]:
    """Refresh due tokens in a thread of its own until the returned function is called
    (which joins the thread, bounded). Each refresh emits ``TokenRefreshed``.

    The first look is ``first_after`` seconds away (sooner if an OAuth account is added): it
    reads every account's tokens, which a daemon just started must not do while it
    answers the call that started it (the thread would take turns with that call for
    the interpreter and the store)."""
    stop = threading.Event()
    wake = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, AccountAdded) and broker.refreshes(event.service, event.account):
            wake.set()

    unsubscribe = broker.subscribe(on_event)

    def loop() -> None:
        if first_after > 0:
            wake.wait(first_after)
            wake.clear()
        while not stop.is_set():
            try:
                broker.refresh_due()
                due = broker.next_refresh_at()
            except SigilforgeError as exc:  # a locked store, say: try again later
                log.info("background refresh: %s", exc.code)
                due = None
            except Exception as exc:
                log.error("background refresh failed: %s", describe_unexpected(exc))
                due = None
            delay = max_sleep if due is None else min(max(due - clock(), _MIN_SLEEP), max_sleep)
            wake.wait(delay)
            wake.clear()

    thread = threading.Thread(target=loop, name="sigilforge-refresh", daemon=True)
    thread.start()

    def halt() -> None:
        unsubscribe()
        stop.set()
        wake.set()
        thread.join(_JOIN_TIMEOUT)

    return halt
