"""What the broker reports as it happens. Names and times only, never a secret."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sigilforge.errors import describe_unexpected

__all__ = [
    "AccountAdded",
    "AccountRemoved",
    "Event",
    "EventHub",
    "ReauthRequired",
    "TokenRefreshed",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenRefreshed:
    service: str
    account: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class AccountAdded:
    service: str
    account: str


@dataclass(frozen=True, slots=True)
class AccountRemoved:
    service: str
    account: str


@dataclass(frozen=True, slots=True)
class ReauthRequired:
    service: str
    account: str
    reason: str


Event = TokenRefreshed | AccountAdded | AccountRemoved | ReauthRequired
Listener = Callable[[Event], None]


class EventHub:
    """Calls every listener for every event; one failing listener never stops the others."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception as exc:
                log.error(
                    "event listener failed on %s: %s",
                    type(event).__name__,
                    describe_unexpected(exc),
                )
