"""A helper process: N callers ask for the same token at once.

``python -m tests.oauth.hammer SERVICE ACCOUNT COUNT GO_FILE [--bus]`` waits until
GO_FILE exists (so two processes start asking together), then prints a JSON list of the
tokens its callers got (or the error codes they hit). The callers are COUNT threads of
one in-process broker, or with ``--bus`` COUNT concurrent ``GetToken`` calls to the
daemon on one D-Bus connection.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

from sigilforge.broker import Broker
from sigilforge.errors import SigilforgeError


def _wait_for(go: Path) -> None:
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)


def over_the_bus(service: str, account: str, count: int, go: Path) -> list[str]:
    from sigilforge.dbus.aio import AsyncClient

    async def ask(client: AsyncClient) -> str:
        try:
            return (await client.get_token(service, account)).token
        except SigilforgeError as exc:
            return f"error:{exc.code}"

    async def run() -> list[str]:
        client = await AsyncClient.connect(timeout=60)
        try:
            print("ready", file=sys.stderr, flush=True)
            await asyncio.to_thread(_wait_for, go)
            return list(await asyncio.gather(*(ask(client) for _ in range(count))))
        finally:
            client.close()

    return asyncio.run(asyncio.wait_for(run(), 90))


def main() -> None:
    service, account, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    if sys.argv[5:] == ["--bus"]:
        print(json.dumps(over_the_bus(service, account, count, go)))
        return
    broker = Broker.open()
    broker.list_accounts()
    barrier = threading.Barrier(count)
    results: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        try:
            got = broker.get_token(service, account).token
        except SigilforgeError as exc:
            got = f"error:{exc.code}"
        with lock:
            results.append(got)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    print("ready", file=sys.stderr, flush=True)
    _wait_for(go)
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    broker.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
