"""Broker events from any thread go out as signals, and clients get them back as events."""

from __future__ import annotations

import asyncio
import threading

from sigilforge._version import __version__
from sigilforge.dbus.aio import AsyncClient
from sigilforge.events import AccountAdded, AccountRemoved, Event, ReauthRequired, TokenRefreshed
from sigilforge.testing.broker_rig import BrokerRig
from tests.dbus.stub import ScriptedBroker, serving

EVENTS: list[Event] = [
    TokenRefreshed("github", "personal", 1_900_000_000),
    ReauthRequired("github", "personal", "invalid_grant"),
    AccountAdded("openai", "work"),
    AccountRemoved("openai", "work"),
]


def test_events_from_a_worker_thread_reach_a_subscribed_client(broker_rig: BrokerRig) -> None:
    async def scenario() -> list[Event]:
        broker = ScriptedBroker()
        got: list[Event] = []
        async with serving(broker):
            client = await AsyncClient.connect(timeout=10)
            try:
                await client.subscribe(got.append)
                worker = threading.Thread(target=lambda: [broker.emit(e) for e in EVENTS])
                worker.start()
                worker.join(5)
                for _ in range(250):
                    if len(got) == len(EVENTS):
                        break
                    await asyncio.sleep(0.02)
                assert await client.version() == __version__
            finally:
                client.close()
        return got

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == EVENTS
