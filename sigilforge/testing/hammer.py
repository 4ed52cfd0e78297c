"""A helper process: N callers ask for the same token at once.

``python -m sigilforge.testing.hammer SERVICE ACCOUNT COUNT GO_FILE [--bus]`` waits until
GO_FILE exists (so two processes start asking together), then prints a JSON list of the
tokens its callers got (or the error codes they hit). The callers are COUNT threads of
one in-process broker, or with ``--bus`` COUNT concurrent ``GetToken`` calls to the
daemon on one D-Bus connection.

``hammer(env, go, ...)`` is the caller's side: it starts the processes, lets them go
together and returns every token they got.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from sigilforge.broker import Broker
from sigilforge.errors import SigilforgeError


def hammer(
    env: dict[str, str],
    go: Path,
    *,
    service: str = "corp",
    account: str = "alice",
    processes: int = 2,
    each: int = 50,
    bus: bool = False,
    timeout: float = 90,
) -> list[str]:
    """Start ``processes`` helpers of ``each`` callers, wait until all are ready, let them
    go at once; the tokens (or ``error:CODE``) they got, all of them."""
    argv = [sys.executable, "-m", "sigilforge.testing.hammer", service, account, str(each), str(go)]
    procs = [
        subprocess.Popen(
            [*argv, *(["--bus"] if bus else [])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    tokens: list[str] = []
    try:
        for proc in procs:
            assert proc.stderr is not None
            assert proc.stderr.readline().strip() == "ready"
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err
            tokens += json.loads(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    return tokens


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
