"""The real D-Bus service in this process, over a stand-in broker that fails on cue.

The bus, the service adapter and the clients are the real ones; only the broker behind
them is scripted, so every error class and a flow that never ends on its own can be
produced on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from dbus_fast import BusType
from dbus_fast.aio import MessageBus
from dbus_fast.constants import NameFlag, RequestNameReply

from sigilforge.config import Config
from sigilforge.dbus.names import BUS_NAME
from sigilforge.dbus.service import BrokerInterface
from sigilforge.model import AccessToken, Account, AddOptions, Removal
from sigilforge.pending import Pending


class ScriptedBroker:
    """Raises ``error`` from every call when set; ``add_account`` hands out Pendings
    that end only when the test (or a Cancel) ends them. A ``BrokerPort`` (mypy checks
    it, ``serving`` attaches it)."""

    def __init__(self) -> None:
        self.config = Config()
        self.error: BaseException | None = None
        self.pendings: list[Pending[Account]] = []
        self.prompt = {"authorize_url": "https://auth.example/authorize?state=x"}
        self.listeners: list[Callable[[Any], None]] = []

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def subscribe(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit(self, event: Any) -> None:
        for listener in list(self.listeners):
            listener(event)

    def cached_token(self, service: str, account: str) -> tuple[AccessToken, int] | None:
        return None

    def cache_unchanged_since(self, epoch: int) -> bool:
        return False

    def get_token(self, service: str, account: str) -> AccessToken:
        self._check()
        return AccessToken("token", None)

    def refresh_token(self, service: str, account: str) -> AccessToken:
        self._check()
        return AccessToken("token", None)

    def list_accounts(self) -> list[Account]:
        self._check()
        return []

    def resolve(self, reference: str) -> str:
        self._check()
        return "value"

    def remove_account(self, service: str, account: str) -> Removal:
        self._check()
        raise AssertionError("not scripted")

    def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> Pending[Account]:
        self._check()
        pending: Pending[Account] = Pending(self.prompt)
        self.pendings.append(pending)
        return pending

    def close(self) -> None:
        pass


@asynccontextmanager
async def serving(broker: ScriptedBroker) -> AsyncIterator[BrokerInterface]:
    """Serve ``broker`` as org.sigilforge.Broker1 on the session bus of the environment."""
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    executor = ThreadPoolExecutor(max_workers=2)
    interface = BrokerInterface(executor)
    interface.install(bus)
    reply = await bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE)
    assert reply is RequestNameReply.PRIMARY_OWNER, "another broker runs on this bus"
    interface.attach(broker)  # mypy checks ScriptedBroker against BrokerPort here
    try:
        yield interface
    finally:
        interface.detach()
        bus.disconnect()
        executor.shutdown(wait=False)
        await asyncio.sleep(0)
