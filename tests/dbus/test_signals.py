"""Broker events from any thread go out as signals, and clients get them back as events."""

from __future__ import annotations

import asyncio
import threading

from sigilforge._version import __version__
from sigilforge.dbus.aio import AsyncClient
from sigilforge.events import AccountAdded, AccountRemoved, Event, ReauthRequired, TokenRefreshed
from sigilforge.model import AccessToken
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


class _Cached(ScriptedBroker):
    """Answers GetToken from memory, as the real broker does once it has read a token."""

    def cached_token(self, service: str, account: str) -> tuple[AccessToken, int] | None:
        return AccessToken("sk-soon-removed", None), 1

    def cache_unchanged_since(self, epoch: int) -> bool:
        return True


def test_a_removed_token_leaves_no_encoded_reply_behind(broker_rig: BrokerRig) -> None:
    async def scenario() -> tuple[str, bytes]:
        broker = _Cached()
        got: list[Event] = []
        async with serving(broker) as service:
            client = await AsyncClient.connect(timeout=10)
            try:
                await client.subscribe(got.append)
                token = (await client.get_token("openai", "work")).token
                broker.emit(AccountRemoved("openai", "work"))
                async with asyncio.timeout(10):
                    while not got:
                        await asyncio.sleep(0.02)
            finally:
                client.close()
            assert service._replies is not None
            kept = b"".join(reply for _, reply in service._replies._templates.values())
        return token, kept

    token, kept = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert token == "sk-soon-removed"
    assert b"sk-soon-removed" not in kept
