"""Sigilforge side by side with its peers, each figure a ratio with its range over runs.

``make bench`` (or ``python -m bench.run`` from the repository root). Each run brings up
ONE private dbus-daemon and ONE headless gnome-keyring, and on them: the broker
(activatable, API-key accounts), GNOME Online Accounts' goa-daemon (activatable, network
cut, one Google account), a minimal dbus-fast echo service (the floor), ``gh`` and
``secret-tool``. Calls to the broker and its peer alternate, made by the same dbus-fast
client. The targets are issue 11's. Exit status 1 if any figure misses its target in
any run. Never run by the tests: timings belong here, not in assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from dbus_fast.aio import MessageBus

from bench import calls, measure, peers
from bench.adder import Adder
from bench.calls import ECHO_NAME, SERVICE, account_name, api_key
from bench.report import Figure, Target, table
from bench.rigs import BUS_NAME, BrokerRig, cli_command

HERE = Path(__file__).parent
LEVELS = (10, 100, 1000)
# Accounts added (and removed again) to time an add, numbered apart from the others:
# through AddAccount, and through the `sigilforge add-account` command.
_TIMED_ADD = 900_000
_TIMED_CLI_ADD = 950_000
CONCURRENCY = 16


def figures() -> dict[str, Figure]:
    shown = Target(None)
    items = [
        Figure("cached GetToken vs GOA GetAccessToken, p50", "us", Target(0.25)),
        Figure(
            "16 callers: GetToken calls/s vs echo of its shape", "/s", Target(0.9, at_least=True)
        ),
        Figure("16 callers: GetToken calls/s vs bare string echo (ungated)", "/s", shown),
        Figure("16 callers: GetToken calls/s vs GOA", "/s", shown),
        Figure("cache miss (first read) vs GOA, p50", "us", Target(1.2)),
        Figure("activation -> first token vs goa-daemon", "ms", Target(1.3)),
        Figure("idle RSS vs goa-daemon", "MB", Target(0.6)),
        Figure("idle RSS vs minimal dbus-fast service", "MB", shown),
        Figure("RSS growth after 100k GetToken (MB)", "MB", Target(0.5), has_peer=False),
        Figure("`sigilforge get-token` vs `gh auth token`", "ms", Target(0.85)),
        Figure("`sigilforge get-token` vs `secret-tool lookup`", "ms", shown),
        Figure("`sigilforge list-accounts` vs `get-token`", "ms", Target(1.2)),
        Figure("cached GetToken p50 (x echo), 100 vs 10 accounts", "x", shown),
        Figure("cached GetToken p50 (x echo), 1000 vs 10 accounts", "x", Target(1.1)),
        # "The echo" for a call is the minimal service giving the same reply. ListAccounts'
        # reply is fixed by the contract (aa{sv}, one dict per account: ~208 KB at 1,000),
        # and decoding it costs the caller far more than a string echo, whoever sends it:
        # the gated figure is against a dbus-fast service returning the same rows.
        Figure("ListAccounts p50 vs echo of the same rows, 1000 accounts", "us", Target(10.0)),
        Figure("ListAccounts p50 vs bare string echo (ungated), 10 accounts", "us", shown),
        Figure("ListAccounts p50 vs bare string echo (ungated), 100 accounts", "us", shown),
        Figure("ListAccounts p50 vs bare string echo (ungated), 1000 accounts", "us", shown),
        # Sigilforge's own time per add: the add minus a bare CreateItem timed beside it,
        # p50 of those pairs. gnome-keyring rewrites its whole keyring file per item, so
        # its CreateItem grows with the items it holds, whoever calls it; the raw figures
        # follow. The command's floor item is created after the keyring idled as long as
        # the command takes to start, and its own time is counted in that start-up's
        # (``time_adds``, ``growth``). The gate is the issue's: the
        # `add-account` command a user runs. The method alone is shown: it rewrites the
        # whole accounts.json per add (DESIGN 4: temp file, fsync, rename), ~205 bytes an
        # account.
        Figure("`sigilforge add-account` own time (x its start-up), 100 vs 10", "x", shown),
        Figure(
            "`sigilforge add-account` own time (x its start-up), 1000 vs 10",
            "x",
            Target(1.1),
        ),
        Figure("AddAccount own time per add (AddAccount - CreateItem), 100 vs 10", "ms", shown),
        Figure("AddAccount own time per add (AddAccount - CreateItem), 1000 vs 10", "ms", shown),
        Figure("AddAccount per add, raw, 100 vs 10", "ms", shown),
        Figure("AddAccount per add, raw, 1000 vs 10", "ms", shown),
        Figure("floor: keyring CreateItem alone, 100 vs 10", "ms", shown),
        Figure("floor: keyring CreateItem alone, 1000 vs 10", "ms", shown),
        Figure("floor: keyring CreateItem after a command's start, 1000 vs 10", "ms", shown),
        Figure("floor: `secret-tool store` per item, 1000 vs 10", "ms", shown),
        Figure("AddAccount vs `secret-tool store`, 10 accounts", "ms", shown),
        Figure("AddAccount vs `secret-tool store`, 1000 accounts", "ms", shown),
    ]
    return {f.name: f for f in items}


class Run:
    """One run: one bus, one keyring, every figure measured once."""

    def __init__(self, rig: BrokerRig, bus: MessageBus, args: argparse.Namespace) -> None:
        self.rig = rig
        self.bus = bus
        self.args = args
        self.adder = Adder(rig.bus.address)
        self.accounts = 0
        self.add_seconds: list[float] = []
        self.cli_add_seconds: list[float] = []
        self.store_seconds: list[float] = []
        self.create_seconds: list[float] = []
        self.idle_create_seconds: list[float] = []
        self.start_seconds: list[float] = []
        self.floor_items = 0
        self.floor_session: str | None = None
        self.out: dict[str, tuple[float, float | None]] = {}
        self.phases: list[tuple[str, float]] = []

    def record(self, name: str, ours: float, peer: float | None = None) -> None:
        self.out[name] = (ours, peer)

    async def add_accounts(self, upto: int) -> None:
        """Add accounts until there are ``upto``, a few in flight."""
        await self.adder.add_range(self.accounts, upto)
        self.accounts = max(self.accounts, upto)

    async def time_adds(self) -> None:
        """At the current count, ``--adds`` times: one account added through AddAccount
        (timed, call to Response), one through the ``sigilforge add-account`` command
        (timed, the whole process) and one floor item created by a bare ``CreateItem``
        from this client (timed), the floor first or last in turn; then ``sigilforge
        add-account --help`` (timed: the command's start-up, the yardstick of its own time;
        meanwhile the keyring idles as long as the command takes to reach its call) and
        another bare ``CreateItem`` (timed: the command's floor); every
        third time also one item stored by ``secret-tool store`` (timed). Then, untimed,
        the accounts are removed and the floor items deleted, so every add is timed with
        the same items in the keyring.

        gnome-keyring's ``CreateItem`` costs more after it idled (measured: +1.2 ms at 10
        items, +2.7 ms at 1,000, for a 0.3 s pause or a 60 ms process), so the command's
        item, created after its ~60 ms start, is set against a floor item created after
        the same pause; AddAccount's, made right after other keyring calls, against one
        made so too."""
        self.add_seconds, self.cli_add_seconds = [], []
        self.create_seconds, self.idle_create_seconds, self.store_seconds = [], [], []
        self.start_seconds = []
        if self.floor_session is None:
            self.floor_session = await calls.plain_secret_session(self.bus)
        await calls.clear_floor(self.bus)
        command = [*cli_command(), "add-account", SERVICE]
        starting = peers.Cli([*cli_command(), "add-account", "--help"], self.rig.env, "")
        for n in range(self.args.adds):
            timed_account, cli_account = _TIMED_ADD + n, _TIMED_CLI_ADD + n
            create = calls.create_item(self.floor_session, self.floor_items)
            self.floor_items += 1
            cli_add = peers.Cli(
                [*command, account_name(cli_account), "--api-key-stdin"],
                self.rig.env,
                "",
                stdin=api_key(cli_account),
            )
            if n % 2:
                self.create_seconds.append(await measure.timed(self.bus, create))
            self.add_seconds.append(await self.adder.add(timed_account))
            self.cli_add_seconds.append(measure.process_seconds(cli_add))
            if not n % 2:
                self.create_seconds.append(await measure.timed(self.bus, create))
            self.start_seconds.append(measure.process_seconds(starting))
            idle_create = calls.create_item(self.floor_session, self.floor_items)
            self.floor_items += 1
            self.idle_create_seconds.append(await measure.timed(self.bus, idle_create))
            if not n % 3:
                store = peers.secret_tool_store(self.rig, self.floor_items)
                self.floor_items += 1
                self.store_seconds.append(measure.process_seconds(store))
            await self.adder.remove(timed_account)
            await self.adder.remove(cli_account)
            await calls.clear_floor(self.bus)

    async def growth(self, level: int) -> None:
        await self.add_accounts(level)
        await self.time_adds()
        # GetToken against the echo measured alongside it, so load from elsewhere on
        # the machine between two levels cancels out of the comparison across levels.
        token0, echo = await measure.interleaved_p50(
            self.bus, [calls.get_token(0), calls.echo()], self.args.rounds
        )
        self.record(f"cached GetToken @{level}", token0 / echo)
        # Few and in small blocks: at 1,000 accounts each ListAccounts is ~10 ms.
        listing, echo = await measure.interleaved_p50(
            self.bus, [calls.list_accounts(), calls.echo()], 200, block=20
        )
        self.record(f"ListAccounts @{level}", listing * 1e6, echo * 1e6)
        # The same rows from a service that only returns them: what an answer of this
        # size costs on the bus and in the caller, whatever the service does.
        (rows,) = await calls.list_accounts().on(self.bus)
        await calls.hold_rows(rows).on(self.bus)
        listing, floor = await measure.interleaved_p50(
            self.bus, [calls.list_accounts(), calls.echo_rows()], 200, block=20
        )
        self.record(f"ListAccounts rows @{level}", listing * 1e6, floor * 1e6)
        own = [a - c for a, c in zip(self.add_seconds, self.create_seconds, strict=True)]
        self.record(f"AddAccount own @{level}", measure.p50(own) * 1e3)
        # A process's time drifts by several percent over the minutes between two levels,
        # whatever it does: the command's own time is counted in its start-up's, measured
        # beside it (as a cached GetToken is counted in echoes).
        own = [a - c for a, c in zip(self.cli_add_seconds, self.idle_create_seconds, strict=True)]
        self.record(f"add-account own @{level}", measure.p50(own) / measure.p50(self.start_seconds))
        self.record(f"idle CreateItem @{level}", measure.p50(self.idle_create_seconds) * 1e3)
        self.record(f"AddAccount @{level}", measure.p50(self.add_seconds) * 1e3)
        self.record(f"secret-tool store @{level}", measure.p50(self.store_seconds) * 1e3)
        self.record(f"CreateItem @{level}", measure.p50(self.create_seconds) * 1e3)

    async def activation_and_misses(self) -> None:
        """Activation of both daemons, then first reads of fresh accounts interleaved
        with GOA calls (GOA reads the keyring on every call)."""
        rounds, per_round = self.args.activations, self.args.misses
        first_miss = self.accounts
        await self.add_accounts(self.accounts + rounds * per_round)
        ours_act: list[float] = []
        goa_act: list[float] = []
        misses: list[float] = []
        goa_calls: list[float] = []
        for r in range(rounds):
            ours_act.append(await measure.activation(self.bus, BUS_NAME, calls.get_token(0)))
            goa_act.append(
                await measure.activation(self.bus, peers.GOA_NAME, calls.goa_access_token())
            )
            for k in range(per_round):
                i = first_miss + r * per_round + k
                misses.append(await measure.timed(self.bus, calls.get_token(i)))
                goa_calls.append(await measure.timed(self.bus, calls.goa_access_token()))
        self.record("activation", measure.p50(ours_act) * 1e3, measure.p50(goa_act) * 1e3)
        self.record("miss", measure.p50(misses) * 1e6, measure.p50(goa_calls) * 1e6)

    async def latency(self) -> None:
        token, goa = await measure.interleaved_p50(
            self.bus, [calls.get_token(0), calls.goa_access_token()], self.args.rounds
        )
        self.record("cached", token * 1e6, goa * 1e6)

    async def concurrency(self, buses: list[MessageBus]) -> None:
        # The floor answers a call of GetToken's shape, so the callers' and the bus's
        # work per call is the same on both sides and only the services differ.
        kinds = {
            "echo": calls.echo_token(0),
            "bare echo": calls.echo(),
            "ours": calls.get_token(0),
            "goa": calls.goa_access_token(),
        }
        totals = {k: [0, 0.0] for k in kinds}
        for call in kinds.values():
            await call.on(self.bus)
        for _ in range(3):
            for kind, call in kinds.items():
                n, elapsed = await measure.rate(buses, call, self.args.slice)
                totals[kind][0] += n
                totals[kind][1] += elapsed
        per_s = {k: n / t for k, (n, t) in totals.items()}
        self.record("concurrent echo", per_s["ours"], per_s["echo"])
        self.record("concurrent bare echo", per_s["ours"], per_s["bare echo"])
        self.record("concurrent goa", per_s["ours"], per_s["goa"])

    async def memory(self, buses: list[MessageBus]) -> None:
        await asyncio.sleep(1.0)  # idle: nothing in flight, timers settled
        pids = {}
        for name in (BUS_NAME, peers.GOA_NAME, ECHO_NAME):
            pid = await calls.owner_pid(self.bus, name)
            if pid is None:
                raise RuntimeError(f"{name} is not running for the memory figure")
            pids[name] = pid
        ours = measure.rss_mb(pids[BUS_NAME])
        self.record("rss goa", ours, measure.rss_mb(pids[peers.GOA_NAME]))
        self.record("rss echo", ours, measure.rss_mb(pids[ECHO_NAME]))
        await measure.drive(buses, calls.get_token(0), self.args.growth_calls)
        await asyncio.sleep(1.0)
        if await calls.owner_pid(self.bus, BUS_NAME) != pids[BUS_NAME]:
            raise RuntimeError("the daemon restarted during the memory figure")
        self.record("rss growth", measure.rss_mb(pids[BUS_NAME]) - ours)

    def processes(self) -> None:
        env = self.rig.env
        cli = [*cli_command()]
        get = peers.Cli([*cli, "get-token", SERVICE, account_name(0)], env, api_key(0))
        listing = peers.Cli([*cli, "list-accounts"], env, "")
        gh = peers.gh_auth_token(self.rig)
        lookup = peers.secret_tool_lookup(self.rig, SERVICE, account_name(0), api_key(0))
        ours, gh_t, lookup_t, list_t = measure.interleaved_processes(
            [get, gh, lookup, listing], self.args.processes
        )
        self.record("cli gh", ours * 1e3, gh_t * 1e3)
        self.record("cli secret-tool", ours * 1e3, lookup_t * 1e3)
        self.record("cli list", list_t * 1e3, ours * 1e3)

    async def all(self) -> None:
        await calls.list_accounts().on(self.bus)  # activate, so the first add is not special
        # Level 10 is measured on a daemon past its start-up work, as the later levels are.
        await asyncio.sleep(3.0)
        await self.phase("growth @10", self.growth(LEVELS[0]))
        await self.phase("activation + misses", self.activation_and_misses())
        await self.phase("latency", self.latency())
        buses = [
            await MessageBus(bus_address=self.rig.bus.address).connect() for _ in range(CONCURRENCY)
        ]
        try:
            await self.phase("concurrency", self.concurrency(buses))
            await self.phase("memory", self.memory(buses))
        finally:
            for b in buses:
                b.disconnect()
        start = time.monotonic()
        self.processes()
        self.phases.append(("processes", time.monotonic() - start))
        for level in LEVELS[1:]:
            await self.phase(f"growth @{level}", self.growth(level))
        self.adder.close()

    async def phase(self, name: str, work: Awaitable[None]) -> None:
        start = time.monotonic()
        await work
        self.phases.append((name, time.monotonic() - start))


def collect(out: dict[str, tuple[float, float | None]], figs: dict[str, Figure]) -> None:
    names = {
        "cached": "cached GetToken vs GOA GetAccessToken, p50",
        "concurrent echo": "16 callers: GetToken calls/s vs echo of its shape",
        "concurrent bare echo": "16 callers: GetToken calls/s vs bare string echo (ungated)",
        "concurrent goa": "16 callers: GetToken calls/s vs GOA",
        "miss": "cache miss (first read) vs GOA, p50",
        "activation": "activation -> first token vs goa-daemon",
        "rss goa": "idle RSS vs goa-daemon",
        "rss echo": "idle RSS vs minimal dbus-fast service",
        "rss growth": "RSS growth after 100k GetToken (MB)",
        "cli gh": "`sigilforge get-token` vs `gh auth token`",
        "cli secret-tool": "`sigilforge get-token` vs `secret-tool lookup`",
        "cli list": "`sigilforge list-accounts` vs `get-token`",
    }
    for key, name in names.items():
        figs[name].add(*out[key])
    base = LEVELS[0]
    for level in LEVELS[1:]:
        figs[f"cached GetToken p50 (x echo), {level} vs {base} accounts"].add(
            out[f"cached GetToken @{level}"][0], out[f"cached GetToken @{base}"][0]
        )
        for figure, key in (
            ("`sigilforge add-account` own time (x its start-up)", "add-account own"),
            ("AddAccount own time per add (AddAccount - CreateItem)", "AddAccount own"),
            ("AddAccount per add, raw", "AddAccount"),
            ("floor: keyring CreateItem alone", "CreateItem"),
        ):
            figs[f"{figure}, {level} vs {base}"].add(
                out[f"{key} @{level}"][0], out[f"{key} @{base}"][0]
            )
    top = LEVELS[-1]
    figs[f"floor: keyring CreateItem after a command's start, {top} vs {base}"].add(
        out[f"idle CreateItem @{top}"][0], out[f"idle CreateItem @{base}"][0]
    )
    figs[f"floor: `secret-tool store` per item, {top} vs {base}"].add(
        out[f"secret-tool store @{top}"][0], out[f"secret-tool store @{base}"][0]
    )
    for level in (base, top):
        figs[f"AddAccount vs `secret-tool store`, {level} accounts"].add(
            out[f"AddAccount @{level}"][0], out[f"secret-tool store @{level}"][0]
        )
    for level in LEVELS:
        figs[f"ListAccounts p50 vs bare string echo (ungated), {level} accounts"].add(
            *out[f"ListAccounts @{level}"]
        )
    figs[f"ListAccounts p50 vs echo of the same rows, {top} accounts"].add(
        *out[f"ListAccounts rows @{top}"]
    )


async def one_run(args: argparse.Namespace) -> Run:
    with (
        tempfile.TemporaryDirectory(prefix="sigilforge-bench-") as tmp,
        BrokerRig(Path(tmp), daemon_args=()) as rig,
    ):
        rig.install_activation_file(ECHO_NAME, [sys.executable, str(HERE / "echo_service.py")])
        peers.install_goa(rig)
        bus = await MessageBus(bus_address=rig.bus.address).connect()
        try:
            run = Run(rig, bus, args)
            await run.all()
            return run
        finally:
            bus.disconnect()


def precompile() -> None:
    """Byte-compile the package as pip does at install time; an editable checkout run
    with PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start,
    which no installed copy does."""
    import compileall

    import sigilforge

    compileall.compile_dir(Path(sigilforge.__file__).parent, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh bus")
    parser.add_argument("--rounds", type=int, default=2000, help="calls per latency figure")
    parser.add_argument("--slice", type=float, default=0.6, help="seconds per throughput slice")
    parser.add_argument("--activations", type=int, default=7)
    parser.add_argument("--misses", type=int, default=5, help="first reads per activation")
    parser.add_argument("--processes", type=int, default=24, help="processes per CLI figure")
    parser.add_argument("--adds", type=int, default=60, help="timed adds at each account count")
    parser.add_argument("--growth-calls", type=int, default=100_000)
    args = parser.parse_args()
    precompile()
    figs = figures()
    started = time.monotonic()
    for n in range(args.runs):
        run_start = time.monotonic()
        run = asyncio.run(one_run(args))
        collect(run.out, figs)
        phases = ", ".join(f"{name} {secs:.1f}" for name, secs in run.phases)
        elapsed = time.monotonic() - run_start
        print(f"run {n + 1}/{args.runs}: {elapsed:.0f} s ({phases})", file=sys.stderr)
    print(table(list(figs.values()), args.runs))
    print(f"\n{args.runs} runs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0 if all(f.passed() for f in figs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
