"""The daemon's broker, opened when it can be: a named error at start is an answer.

A broker that cannot open (a typo in ``config.toml``, a bad ``accounts.json``) must not
take the daemon down with it: D-Bus would start it again on every call, each caller
would get ``NoReply`` and the log would fill. Instead the daemon stays up and answers
each call with the error the in-process CLI would show (the same name, so the same exit
code), and tries to open again on the next call, so the user's fix works without a
restart. The error is logged once per distinct message, not once per call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sigilforge.config import Config
from sigilforge.errors import SigilforgeError

if TYPE_CHECKING:
    from sigilforge.broker import Broker
    from sigilforge.events import Event
    from sigilforge.model import AccessToken, Account, AddOptions, Removal
    from sigilforge.pending import Pending

__all__ = ["OpeningBroker"]

log = logging.getLogger(__name__)

Listener = Callable[["Event"], None]


class OpeningBroker:
    """A ``BrokerPort`` over the broker ``open_broker`` gives, once it gives one.

    ``on_open(broker)`` runs once, after the first successful open (the daemon starts
    its proactive refresh there) and returns what stops it, called by ``close``."""

    def __init__(
        self,
        open_broker: Callable[[], Broker],
        on_open: Callable[[Broker], Callable[[], None]],
    ) -> None:
        self._open_broker = open_broker
        self._on_open = on_open
        self._lock = threading.Lock()
        self._broker: Broker | None = None
        self._stop: Callable[[], None] | None = None
        # Each listener, and what unsubscribes it from the open broker (None: not open).
        self._listeners: dict[Listener, Callable[[], None] | None] = {}
        self._last_error: str | None = None
        # The open broker's own, asked for every GetToken on the event loop; until it
        # opens, nothing: never an attempt to open (which reads files) from there.
        self.cached_token: Callable[[str, str], tuple[AccessToken, int] | None] = _nothing

    @property
    def config(self) -> Config:
        return self._broker.config if self._broker is not None else Config()

    def try_open(self) -> Broker:
        """The broker, opening it if need be; the opening error otherwise."""
        broker = self._broker
        if broker is not None:
            return broker
        with self._lock:
            if self._broker is not None:
                return self._broker
            try:
                broker = self._open_broker()
            except SigilforgeError as exc:
                if exc.message != self._last_error:
                    self._last_error = exc.message
                    log.error("cannot open the broker; answering calls with: %s", exc.message)
                raise
            if self._last_error is not None:
                log.info("the broker opened after all")
            for listener in self._listeners:
                self._listeners[listener] = broker.subscribe(listener)
            self._broker = broker
            self.cached_token = broker.cached_token
            self._stop = self._on_open(broker)
            return broker

    def close(self) -> None:
        with self._lock:
            if self._stop is not None:
                self._stop()
            for unsubscribe in self._listeners.values():
                if unsubscribe is not None:
                    unsubscribe()
            self._listeners.clear()
            self.cached_token = _nothing
            if self._broker is not None:
                self._broker.close()
            self._broker = self._stop = None

    def has_unsaved(self) -> bool:
        """Refreshed tokens the store refused, kept in memory (never opens the broker)."""
        broker = self._broker
        return broker is not None and broker.has_unsaved()

    def save_unsaved(self) -> None:
        broker = self._broker
        if broker is not None:
            broker.save_unsaved()

    def close_refreshes(self) -> None:
        """Calls waiting on a refresh process answer now (it goes on by itself)."""
        broker = self._broker
        if broker is not None:
            broker.close_refreshes()

    # -- BrokerPort ------------------------------------------------------------------------

    def cache_unchanged_since(self, epoch: int) -> bool:
        broker = self._broker
        return broker is not None and broker.cache_unchanged_since(epoch)

    def get_token(self, service: str, account: str) -> AccessToken:
        return self.try_open().get_token(service, account)

    def refresh_token(self, service: str, account: str) -> AccessToken:
        return self.try_open().refresh_token(service, account)

    def list_accounts(self) -> list[Account]:
        return self.try_open().list_accounts()

    def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> Pending[Account]:
        return self.try_open().add_account(service, account, options)

    def remove_account(self, service: str, account: str) -> Removal:
        return self.try_open().remove_account(service, account)

    def resolve(self, reference: str) -> str:
        return self.try_open().resolve(reference)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            broker = self._broker
            self._listeners[listener] = None if broker is None else broker.subscribe(listener)

        def unsubscribe() -> None:
            with self._lock:
                off = self._listeners.pop(listener, None)
            if off is not None:
                off()

        return unsubscribe


def _nothing(service: str, account: str) -> None:
    return None
