"""Timing primitives: interleaved latency, throughput of concurrent callers,
activation, whole processes, resident memory. Every wait is bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from dbus_fast.aio import MessageBus

from bench.calls import Call, owner_pid
from bench.peers import Cli


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


async def timed(bus: MessageBus, call: Call) -> float:
    start = time.perf_counter()
    await call.on(bus)
    return time.perf_counter() - start


async def interleaved_p50(
    bus: MessageBus, calls: Sequence[Call], per_call: int, block: int = 100
) -> list[float]:
    """p50 seconds of each call, run in alternating blocks so drift hits all alike."""
    times: list[list[float]] = [[] for _ in calls]
    for call in calls:  # warm up: activation, cache fill
        await call.on(bus)
    for _ in range(max(1, per_call // block)):
        for call, samples in zip(calls, times, strict=True):
            for _ in range(block):
                samples.append(await timed(bus, call))
    return [p50(s) for s in times]


async def rate(buses: Sequence[MessageBus], call: Call, seconds: float) -> tuple[int, float]:
    """(calls answered, elapsed) with one caller per connection, for ``seconds``."""
    deadline = time.perf_counter() + seconds
    counts = [0] * len(buses)

    async def caller(i: int, bus: MessageBus) -> None:
        while time.perf_counter() < deadline:
            await call.on(bus)
            counts[i] += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller(i, b) for i, b in enumerate(buses)))
    return sum(counts), time.perf_counter() - start


async def drive(buses: Sequence[MessageBus], call: Call, total: int) -> None:
    """``total`` calls spread over concurrent callers (one per connection)."""
    share, extra = divmod(total, len(buses))

    async def caller(bus: MessageBus, n: int) -> None:
        for _ in range(n):
            await call.on(bus)

    await asyncio.gather(*(caller(b, share + (i < extra)) for i, b in enumerate(buses)))


def running(pid: int) -> bool:
    """False once the process has exited, zombie or reaped: dbus-daemon reaps the
    services it activated only now and then."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


async def wait_exit(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} did not exit")
        await asyncio.sleep(0.005)


async def stop_service(bus: MessageBus, name: str) -> None:
    pid = await owner_pid(bus, name)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    await wait_exit(pid)
    # The bus must have dropped the name too, or the next call reaches no one.
    deadline = time.monotonic() + 10.0
    while await owner_pid(bus, name) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} is still owned after its process exited")
        await asyncio.sleep(0.005)


async def activation(bus: MessageBus, name: str, call: Call, settle: float = 0.2) -> float:
    """Seconds from a call to a stopped service until its reply (activation included)."""
    await stop_service(bus, name)
    # Let the exit's aftermath (bus bookkeeping, page cache) settle before timing.
    await asyncio.sleep(settle)
    return await timed(bus, call)


def process_seconds(cli: Cli, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        cli.argv,
        env=cli.env,
        input=cli.stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or (cli.expect and done.stdout.strip() != cli.expect):
        raise RuntimeError(f"{cli.argv[:3]} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def interleaved_processes(clis: Sequence[Cli], rounds: int) -> list[float]:
    times: list[list[float]] = [[] for _ in clis]
    for cli in clis:  # warm the page cache and the daemon
        process_seconds(cli)
    for n in range(rounds):
        # Each in every place in turn: what runs just before a process (its page cache,
        # a busy keyring) is then the same for all of them.
        for i in (*range(n % len(clis), len(clis)), *range(n % len(clis))):
            times[i].append(process_seconds(clis[i]))
    return [p50(s) for s in times]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
