"""The floor: the smallest dbus-fast service, one trivial method, activatable.

Run as ``python bench/echo_service.py``; it owns ``org.sigilforge.BenchEcho`` and
answers ``Echo(s) -> s`` until SIGTERM. ``Token(ss) -> (sx)`` has GetToken's shape (two
names in, a 30-character key and 0 out, as the broker answers an API key): the floor
for the same call. ``Hold(aa{sv})`` keeps a list of rows that
``Rows() -> aa{sv}`` then answers: the floor for a listing as big as the broker's (the
same rows, from a service that does nothing but return them).
"""

import asyncio
import signal
from typing import Annotated, Any

from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature, DBusStr
from dbus_fast.service import ServiceInterface, dbus_method

Rows = Annotated[list[dict[str, Any]], DBusSignature("aa{sv}")]

NAME = "org.sigilforge.BenchEcho"
PATH = "/org/sigilforge/BenchEcho"
# As long as the bench's API keys (bench.calls.api_key), so both replies weigh the same.
_TOKEN = "sk-bench-0000-0123456789abcdef"


class Echo(ServiceInterface):
    def __init__(self) -> None:
        super().__init__(NAME)
        self._rows: list[Any] = []

    @dbus_method(name="Echo")
    def echo(self, value: DBusStr) -> DBusStr:
        return value

    @dbus_method(name="Token")
    def token(
        self, service: DBusStr, account: DBusStr
    ) -> Annotated[list[Any], DBusSignature("sx")]:
        return [_TOKEN, 0]

    @dbus_method(name="Hold")
    def hold(self, rows: Rows) -> None:
        self._rows = rows

    @dbus_method(name="Rows")
    def rows(self) -> Rows:
        return self._rows


async def main() -> None:
    bus = await MessageBus().connect()
    bus.export(PATH, Echo())
    await bus.request_name(NAME)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Leave with the bus too, or an orphan outlives the benchmark's private bus.
    await asyncio.wait(
        [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(bus.wait_for_disconnect())],
        return_when=asyncio.FIRST_COMPLETED,
    )
    bus.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
