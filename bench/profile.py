"""Where the time goes, for the figures issue 11 wants moved: counts, not timings.

``python -m bench.profile`` brings up the same private bus, keyring and peers as
``bench.run`` and prints:

- the Secret Service calls (and their sequence) per cache miss, per GOA
  ``GetAccessToken``, per cached ``GetToken``, and during activation to the first token,
  all read off ``dbus-monitor`` on the private bus;
- ``python -X importtime`` of the activated daemon up to its first token and of
  ``sigilforge get-token``, as the heaviest top-level imports.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from dbus_fast import Message
from dbus_fast.aio import MessageBus

from bench import calls, measure, peers
from bench.adder import Adder
from bench.calls import ECHO_NAME, SERVICE, account_name, api_key
from bench.rigs import BUS_NAME, BrokerRig, cli_command, daemon_command

HERE = Path(__file__).parent
SECRETS = "/org/freedesktop/secrets"
MISSES = 5


def marker(n: int) -> calls.Call:
    call = calls.echo()
    msg = Message(
        destination=ECHO_NAME,
        path=call.message.path,
        interface=ECHO_NAME,
        member="Echo",
        signature="s",
        body=[f"mark{n}"],
    )
    return calls.Call("marker", msg)


class Monitor:
    """``dbus-monitor --profile`` on the private bus, split into segments by markers
    (Echo calls, whose profile lines carry the member name)."""

    def __init__(self, rig: BrokerRig, out: Path) -> None:
        self.out = out
        self._file = out.open("w")
        self._proc = subprocess.Popen(
            ["dbus-monitor", "--address", rig.bus.address, "--profile"],
            stdout=self._file,
            stderr=subprocess.DEVNULL,
        )
        self.marks = 0

    async def mark(self, bus: MessageBus, timeout: float = 10.0) -> None:
        """Send a marker and wait until the monitor has written it (bounded)."""
        self.marks += 1
        deadline = time.monotonic() + timeout
        while True:
            await marker(self.marks).on(bus)
            await asyncio.sleep(0.05)
            if self._count_marks() >= self.marks:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("dbus-monitor did not see the marker")

    def _count_marks(self) -> int:
        return sum(1 for line in self.lines() if _is_marker(line))

    def lines(self) -> list[list[str]]:
        self._file.flush()
        return [line.split("\t") for line in self.out.read_text().splitlines() if line]

    def segments(self) -> list[list[list[str]]]:
        """Lines between consecutive markers (segment i follows marker i+1), dropping
        duplicate markers sent while waiting for the monitor."""
        segs: list[list[list[str]]] = []
        current: list[list[str]] | None = None
        for fields in self.lines():
            if _is_marker(fields):
                if current is None or current:
                    current = []
                    segs.append(current)
                continue
            if current is not None:
                current.append(fields)
        return segs

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(5)
        self._file.close()


def _is_marker(fields: list[str]) -> bool:
    return len(fields) >= 8 and fields[0] == "mc" and fields[7] == "Echo"


def secret_calls(seg: list[list[str]], senders: set[str]) -> list[str]:
    """Method calls from ``senders`` to the Secret Service, as ``Interface.Member``."""
    out = []
    for f in seg:
        if f[0] == "mc" and f[3] in senders and f[5].startswith(SECRETS):
            iface = f[6].rsplit(".", 1)[-1]
            out.append(f"{iface}.{f[7]}")
    return out


async def connections_of(bus: MessageBus, pid: int | None, lines: list[list[str]]) -> set[str]:
    """The unique names, among senders in ``lines``, of connections of process ``pid``:
    a daemon may talk to the Secret Service on a connection of its own."""
    senders = {f[3] for f in lines if len(f) > 3 and f[3].startswith(":")}
    return {s for s in senders if pid is not None and await calls.owner_pid(bus, s) == pid}


async def round_trips(rig: BrokerRig) -> None:
    bus = await MessageBus(bus_address=rig.bus.address).connect()
    adder = Adder(rig.bus.address)
    await adder.add_range(0, MISSES + 1)
    adder.close()
    await calls.goa_access_token().on(bus)
    await measure.stop_service(bus, BUS_NAME)
    await asyncio.sleep(0.2)
    monitor = Monitor(rig, rig.root / "monitor.txt")
    try:
        await monitor.mark(bus)
        ours_sent = time.time()
        await calls.get_token(0).on(bus)  # activation -> first token (a miss too)
        await monitor.mark(bus)
        for i in range(1, MISSES + 1):
            await calls.get_token(i).on(bus)
        await monitor.mark(bus)
        for _ in range(MISSES):
            await calls.goa_access_token().on(bus)
        await monitor.mark(bus)
        for _ in range(MISSES):
            await calls.get_token(0).on(bus)
        await monitor.mark(bus)
        # goa-daemon is restarted next: learn its connections while they are there.
        goa_pid = await calls.owner_pid(bus, peers.GOA_NAME)
        goa_first = await connections_of(bus, goa_pid, monitor.lines())
        await measure.stop_service(bus, peers.GOA_NAME)
        await asyncio.sleep(0.2)
        goa_sent = time.time()
        await calls.goa_access_token().on(bus)  # goa-daemon activation -> first token
        await monitor.mark(bus)
        bus_name = bus.unique_name or ""
        lines = monitor.lines()
        ours = await connections_of(bus, await calls.owner_pid(bus, BUS_NAME), lines)
        goa = await connections_of(bus, await calls.owner_pid(bus, peers.GOA_NAME), lines)
        goa |= goa_first
        activation, misses, goa_calls, cached, goa_activation = monitor.segments()[:5]
    finally:
        monitor.stop()

        bus.disconnect()
    rows = [
        ("Sigilforge activation -> first token", secret_calls(activation, ours), 1),
        ("Sigilforge cache miss", secret_calls(misses, ours), MISSES),
        ("Sigilforge cached GetToken", secret_calls(cached, ours), MISSES),
        ("goa-daemon activation -> first token", secret_calls(goa_activation, goa), 1),
        ("GOA GetAccessToken", secret_calls(goa_calls, goa), MISSES),
    ]
    client = bus_name
    print("where the time goes, from dbus-monitor's timestamps on the private bus")
    show_timeline("Sigilforge activation", timeline(activation, ours, client, ours_sent))
    show_timeline("Sigilforge cache miss", timeline(misses, ours, client))
    show_timeline("goa-daemon activation", timeline(goa_activation, goa, client, goa_sent))
    show_timeline("GOA GetAccessToken", timeline(goa_calls, goa, client))
    print("\nSecret Service method calls (dbus-monitor on the private bus)")
    for label, seq, n in rows:
        print(f"  {label}: {len(seq) / n:g} per call")
        if seq:
            one = seq[: len(seq) // n]
            print(f"    {', '.join(one)}")
            if Counter(seq) != Counter({k: v * n for k, v in Counter(one).items()}):
                print(f"    (not the same every call: {dict(Counter(seq))} over {n})")


TOKEN_CALLS = {"GetToken", "GetAccessToken"}
STEPS = (
    ("Hello", "connected to the bus"),
    ("RequestName", "asked for its name"),
    ("first", "first Secret Service call"),
    ("last", "last Secret Service reply"),
    ("reply", "reply"),
)


def timeline(
    seg: list[list[str]], daemon: set[str], client: str, sent_at: float | None = None
) -> dict[str, float]:
    """Milliseconds from each token call ``client`` made in ``seg`` to the steps the
    daemon took for it (averaged over the calls), from dbus-monitor's timestamps.

    ``sent_at`` (wall clock, as dbus-monitor's) replaces the call's own timestamp: a
    call that activates a service may be seen by the monitor only when delivered."""
    per_call: list[dict[str, float]] = []
    t0 = 0.0
    events: dict[str, float] = {}
    for f in seg:
        t, sender = float(f[1]), f[3]
        if f[0] == "mc" and sender == client and f[7] in TOKEN_CALLS:
            events = {}
            per_call.append(events)
            t0 = t if sent_at is None else sent_at
            continue
        if f[0] == "mc" and sender in daemon:
            if f[7] in {"Hello", "RequestName"}:
                events.setdefault(f[7], (t - t0) * 1e3)
            if f[5].startswith(SECRETS):
                events.setdefault("first", (t - t0) * 1e3)
                events["pending"] = 1.0
        elif f[0] in {"mr", "err"} and f[4] in daemon and events.pop("pending", 0.0):
            events["last"] = (t - t0) * 1e3
        elif f[0] in {"mr", "err"} and f[4] == client and sender in daemon:
            events["reply"] = (t - t0) * 1e3
    names = {k for e in per_call for k in e}
    return {k: sum(e.get(k, 0.0) for e in per_call) / len(per_call) for k in names}


def show_timeline(label: str, steps: dict[str, float]) -> None:
    parts = [f"{text} {steps[key]:.2f}" for key, text in STEPS if key in steps]
    print(f"  {label} (ms after the call): {', '.join(parts)}")


def importtime(lines: list[str], top: int = 12) -> list[str]:
    """Import time from ``-X importtime`` output, as self time summed per top-level
    package (``sigilforge``, ``dbus_fast``, ``asyncio``, ...), heaviest first."""
    per_root: Counter[str] = Counter()
    pulled: Counter[str] = Counter()  # the outermost import of each: what it pulls in
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3:
            continue
        root = fields[2].strip().split(".")[0]
        per_root[root] += int(fields[0])
        pulled[root] = max(pulled[root], int(fields[1]))
    total = sum(per_root.values())
    out = [f"    all imports: {total / 1000:.1f} ms. self ms by top-level package (cumulative ms)"]
    out += [
        f"    {us / 1000:6.1f} ({pulled[name] / 1000:5.1f})  {name}"
        for name, us in per_root.most_common(top)
    ]
    return out


async def activation_imports(rig: BrokerRig) -> list[str]:
    bus = await MessageBus(bus_address=rig.bus.address).connect()
    try:
        await measure.stop_service(bus, BUS_NAME)
        log_start = len(rig.log_text())
        rig.install_activation_file(
            BUS_NAME, ["/usr/bin/env", "PYTHONPROFILEIMPORTTIME=1", *daemon_command()]
        )
        await calls.get_token(0).on(bus)
        await measure.stop_service(bus, BUS_NAME)
        rig.install_activation_file()  # back to the real one
    finally:
        bus.disconnect()
    return rig.log_text()[log_start:].splitlines()


def cli_imports(rig: BrokerRig) -> list[str]:
    code = "import sys; from sigilforge.entry import main; main(sys.argv[1:])"
    argv = [sys.executable, "-X", "importtime", "-c", code, "get-token", SERVICE, account_name(0)]
    done = rig.run(*argv)
    if done.returncode != 0 or done.stdout.strip() != api_key(0):
        raise RuntimeError(f"get-token failed: {done.stderr[-500:]}")
    return done.stderr.splitlines()


def python_startup(rig: BrokerRig, runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rig.run(sys.executable, "-c", "pass")
        times.append(time.perf_counter() - start)
    return measure.p50(times)


def secret_service_time(lines: list[list[str]], daemon: set[str]) -> dict[str, float]:
    """Seconds the daemon spent waiting on Secret Service replies in ``lines``, per
    member, each call paired with its reply by serial."""
    sent: dict[tuple[str, str], tuple[float, str]] = {}
    waited: dict[str, float] = {}
    for f in lines:
        if f[0] == "mc" and f[3] in daemon and f[5].startswith(SECRETS):
            sent[(f[3], f[2])] = (float(f[1]), f[7])
        elif f[0] in {"mr", "err"} and (f[4], f[5]) in sent:
            at, member = sent.pop((f[4], f[5]))
            waited[member] = waited.get(member, 0.0) + float(f[1]) - at
    return waited


async def add_costs(rig: BrokerRig, levels: tuple[int, ...], timed: int = 10) -> None:
    """AddAccount at growing account counts: its time, how much of it is spent waiting
    on the Secret Service (gnome-keyring), from dbus-monitor, and beside it the floor:
    one item stored into the same keyring by ``secret-tool store`` and one by a bare
    ``CreateItem``, each after an add."""
    bus = await MessageBus(bus_address=rig.bus.address).connect()
    adder = Adder(rig.bus.address)
    have = MISSES + 1
    session = await calls.plain_secret_session(bus)
    print(f"\nAddAccount (call to Response), the last {timed} adds up to each count")
    try:
        for level in levels:
            await adder.add_range(have, max(have, level - timed))
            have = max(have, level - timed)
            monitor = Monitor(rig, rig.root / f"adds-{level}.txt")
            try:
                await monitor.mark(bus)
                first, spent, stores, creates = have, 0.0, [], []
                while have < level:
                    spent += await adder.add(have)
                    stores.append(measure.process_seconds(peers.secret_tool_store(rig, have)))
                    creates.append(await measure.timed(bus, calls.create_item(session, have)))
                    have += 1
                n = max(1, have - first)
                elapsed = spent / n
                await monitor.mark(bus)
                lines = monitor.segments()[0]
                pid = await calls.owner_pid(bus, BUS_NAME)
                conns = await connections_of(bus, pid, lines)
                waited = secret_service_time(lines, conns)
                sequence = secret_calls(lines, conns)
            finally:
                monitor.stop()
            print(
                f"  at {level} accounts: {elapsed * 1e3:.1f} ms per add, of which "
                f"{sum(waited.values()) / n * 1e3:.1f} ms waiting on "
                f"{len(sequence) / n:g} Secret Service calls "
                f"({waited.get('CreateItem', 0.0) / n * 1e3:.1f} ms in CreateItem); "
                f"`secret-tool store` {measure.p50(stores) * 1e3:.1f} ms per item, a bare "
                f"CreateItem {measure.p50(creates) * 1e3:.1f} ms"
            )
            print(f"    {', '.join(sequence[: len(sequence) // n])}")
    finally:
        adder.close()
        bus.disconnect()


async def main_async(add_levels: tuple[int, ...]) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="sigilforge-profile-") as tmp,
        BrokerRig(Path(tmp), daemon_args=()) as rig,
    ):
        rig.install_activation_file(ECHO_NAME, [sys.executable, str(HERE / "echo_service.py")])
        peers.install_goa(rig)
        await round_trips(rig)
        print("\nimports of the activated daemon, up to its first token (-X importtime)")
        print("\n".join(importtime(await activation_imports(rig))))
        print(f"\nimports of `{' '.join(cli_command()[-1:])} get-token` (daemon warm)")
        print("\n".join(importtime(cli_imports(rig))))
        print(f"\n`python -c pass`: {python_startup(rig) * 1e3:.1f} ms (p50 of 10)")
        if add_levels:
            await add_costs(rig, add_levels)


def main() -> int:
    from bench.run import precompile

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--adds",
        default="",
        help="account counts at which to profile AddAccount, e.g. 10,100,1000 (slow)",
    )
    args = parser.parse_args()
    precompile()
    asyncio.run(main_async(tuple(int(n) for n in args.adds.split(",") if n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
