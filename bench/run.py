"""Speed of the broker, each figure as a ratio against a floor measured in the same run.

``make bench`` (or ``python -m bench.run`` from the repository root) brings up a
private bus and a headless gnome-keyring, adds an API-key account, and measures:

- cached ``GetToken`` p50 against a trivial dbus-fast echo method on the same bus;
- ``sigilforge get-token`` as a whole process against a one-call jeepney script;
- activation to the first ``GetToken`` reply (the key read from the real keyring)
  against activation of the minimal echo service to its first reply;
- the idle daemon's resident memory.

Exit status 1 if any figure misses its target. Never run by the tests: timings belong
here, not in assertions that a loaded CI machine would make flaky.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from sigilforge.testing.broker_rig import BUS_NAME, INTERFACE, OBJECT_PATH, BrokerRig, cli_command

ECHO_NAME = "org.sigilforge.BenchEcho"
ECHO_PATH = "/org/sigilforge/BenchEcho"
HERE = Path(__file__).parent

TARGETS = {
    "cached GetToken p50 / echo p50": 1.25,
    "sigilforge get-token / one-call jeepney": 2.0,
    "activation to GetToken / minimal service": 2.0,
}
RSS_TARGET_MB = 40.0


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


async def latency(address: str, rounds: int) -> tuple[float, float]:
    """p50 seconds of (echo, cached GetToken), interleaved in blocks so drift hits both."""
    bus = await MessageBus(bus_address=address).connect()
    echo = Message(
        destination=ECHO_NAME,
        path=ECHO_PATH,
        interface=ECHO_NAME,
        member="Echo",
        signature="s",
        body=["openai"],
    )
    token = Message(
        destination=BUS_NAME,
        path=OBJECT_PATH,
        interface=INTERFACE,
        member="GetToken",
        signature="ss",
        body=["openai", "work"],
    )
    echo_times: list[float] = []
    token_times: list[float] = []
    for msg in (echo, token):  # warm up: activation, cache fill
        reply = await asyncio.wait_for(bus.call(msg), 30)
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            raise RuntimeError(f"{msg.member} failed: {reply and reply.body}")
    block = 200
    for _ in range(max(1, rounds // block)):
        for msg, times in ((echo, echo_times), (token, token_times)):
            for _ in range(block):
                start = time.perf_counter()
                await bus.call(msg)
                times.append(time.perf_counter() - start)
    bus.disconnect()
    return p50(echo_times), p50(token_times)


def process_time(rig: BrokerRig, argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = rig.run(*argv)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed: {done.stderr}")
    return p50(times)


def activation_time(rig: BrokerRig, name: str, call: Callable[[], None], runs: int) -> float:
    times = []
    for _ in range(runs):
        pid = rig.owner_pid(name)
        rig.stop_daemon(name)
        # A process still winding down would compete for the CPU with the next start.
        while pid is not None and Path(f"/proc/{pid}").exists():
            time.sleep(0.01)
        time.sleep(0.1)
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return p50(times)


def jeepney_caller(address: str) -> Callable[[str, str, str, str, tuple[str, ...]], None]:
    from jeepney import DBusAddress, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(address)

    def call(name: str, path: str, iface: str, member: str, args: tuple[str, ...]) -> None:
        msg = new_method_call(
            DBusAddress(path, bus_name=name, interface=iface), member, "s" * len(args), args
        )
        reply = conn.send_and_get_reply(msg, timeout=30)
        if reply.header.message_type is MessageType.error:
            raise RuntimeError(f"{member}: {reply.body}")

    return call


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def precompile() -> None:
    """Byte-compile the package as pip does at install time; an editable checkout run
    with PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start,
    which no installed copy does."""
    import compileall

    import sigilforge

    compileall.compile_dir(Path(sigilforge.__file__).parent, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4000, help="calls per latency figure")
    parser.add_argument("--runs", type=int, default=15, help="processes per process figure")
    parser.add_argument("--activations", type=int, default=7)
    args = parser.parse_args()
    precompile()

    with (
        tempfile.TemporaryDirectory(prefix="sigilforge-bench-") as tmp,
        BrokerRig(Path(tmp), daemon_args=()) as rig,
    ):
        rig.install_activation_file(ECHO_NAME, [sys.executable, str(HERE / "echo_service.py")])
        rig.add_api_key("openai", "work", "sk-bench-0123456789abcdef")
        address = rig.bus.address

        echo_p50, token_p50 = asyncio.run(latency(address, args.rounds))

        cli = process_time(rig, [*cli_command(), "get-token", "openai", "work"], args.runs)
        floor = process_time(
            rig, [sys.executable, str(HERE / "one_call.py"), "openai", "work"], args.runs
        )

        call = jeepney_caller(address)
        echo_act = activation_time(
            rig,
            ECHO_NAME,
            lambda: call(ECHO_NAME, ECHO_PATH, ECHO_NAME, "Echo", ("x",)),
            args.activations,
        )
        broker_act = activation_time(
            rig,
            BUS_NAME,
            lambda: call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetToken", ("openai", "work")),
            args.activations,
        )
        # Serve a few calls, then let it sit: the resident size of an idle daemon.
        for _ in range(50):
            call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetToken", ("openai", "work"))
        time.sleep(1.0)
        pid = rig.owner_pid()
        assert pid is not None
        rss = rss_mb(pid)

    rows = [
        ("cached GetToken p50 / echo p50", token_p50 * 1e6, echo_p50 * 1e6, "us"),
        ("sigilforge get-token / one-call jeepney", cli * 1e3, floor * 1e3, "ms"),
        ("activation to GetToken / minimal service", broker_act * 1e3, echo_act * 1e3, "ms"),
    ]
    failed = False
    print(f"{'figure':44} {'ours':>10} {'floor':>10} {'ratio':>7} {'target':>7}")
    for name, ours, base, unit in rows:
        ratio = ours / base
        ok = ratio <= TARGETS[name]
        failed |= not ok
        print(
            f"{name:44} {ours:8.1f}{unit} {base:8.1f}{unit} {ratio:7.2f} "
            f"{'<= ' + format(TARGETS[name], 'g'):>7} {'ok' if ok else 'MISSED'}"
        )
    ok = rss <= RSS_TARGET_MB
    failed |= not ok
    verdict = "ok" if ok else "MISSED"
    print(f"{'idle daemon RSS':44} {rss:8.1f}MB {'':>10} {'':>7} {'<= 40MB':>7} {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
