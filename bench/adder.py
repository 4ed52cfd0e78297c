"""Adding (and removing) the benchmark's API-key accounts through the running broker, as a
client would.

The broker's own asyncio client is used (AddAccount, then its Response signal), on one
connection for the whole run.
"""

from __future__ import annotations

import asyncio
import time

from dbus_fast.aio import MessageBus

from bench.calls import SERVICE, account_name, api_key
from sigilforge.dbus.aio import AsyncClient
from sigilforge.dbus.requests import PER_CALLER
from sigilforge.model import AddOptions

# The broker refuses more open AddAccount flows than this from one caller.
_IN_FLIGHT = PER_CALLER


class Adder:
    def __init__(self, address: str) -> None:
        self._address = address
        self._client: AsyncClient | None = None

    async def _connected(self) -> AsyncClient:
        if self._client is None:
            bus = await MessageBus(bus_address=self._address).connect()
            self._client = AsyncClient(bus)
        return self._client

    async def add(self, i: int) -> float:
        """Account ``i``, alone; seconds from the call to its Response."""
        client = await self._connected()
        start = time.perf_counter()
        await _add(client, i)
        return time.perf_counter() - start

    async def remove(self, i: int) -> None:
        client = await self._connected()
        await asyncio.wait_for(client.remove_account(SERVICE, account_name(i)), 30)

    async def add_range(self, start: int, stop: int) -> None:
        """Accounts ``start`` to ``stop - 1``, a few in flight to save wall time."""
        for first in range(start, stop, _IN_FLIGHT):
            batch = range(first, min(stop, first + _IN_FLIGHT))
            client = await self._connected()
            await asyncio.gather(*(_add(client, i) for i in batch))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


async def _add(client: AsyncClient, i: int) -> None:
    request = await client.add_account(SERVICE, account_name(i), AddOptions(api_key=api_key(i)))
    await request.result(timeout=30)
