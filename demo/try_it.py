"""Try Sigilforge without a desktop, an account at any provider, or a network.

``make demo`` (or ``python -m demo.try_it`` from the repository root) runs, on a private
D-Bus session bus with a headless gnome-keyring of its own (your own bus and keyring are
never touched):

1. ``sigilforge service install --user``: the activation file, as for a pip install;
2. a ``dbus-monitor`` in another process, watching the broker's signals;
3. ``sigilforge add-account``: an API key, which starts the daemon (AccountAdded);
4. the daemon leaving when idle, and ``busctl --user call ... GetToken`` bringing it back;
5. ``sigilforge get-token``, ``list-accounts``, ``remove-account`` (AccountRemoved);
6. what the monitor saw.

Each step is a function in ``STEPS``; add one to show more (an OAuth account, say).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.broker_rig import BUS_NAME, INTERFACE, OBJECT_PATH, BrokerRig, cli_command

DEMO_KEY = "sk-demo-0123456789abcdef"
IDLE_SECS = 2


class Demo:
    def __init__(self, rig: BrokerRig, root: Path) -> None:
        self.rig = rig
        self.root = root
        self.monitor: subprocess.Popen[bytes] | None = None
        self.monitor_out = root / "monitor.txt"

    def say(self, text: str) -> None:
        print(f"\n\033[1m# {text}\033[0m", flush=True)

    def run(self, argv: list[str], stdin: str | None = None, show: list[str] | None = None) -> str:
        shown = show or [Path(argv[0]).name if argv[0].startswith("/") else argv[0], *argv[1:]]
        prefix = f"echo {DEMO_KEY} | " if stdin else ""
        print(f"$ {prefix}{shlex.join(shown)}", flush=True)
        done = self.rig.run(*argv, stdin=stdin)
        for stream in (done.stdout, done.stderr):
            if stream.strip():
                print(stream.rstrip(), flush=True)
        if done.returncode != 0:
            raise SystemExit(f"demo step failed (exit {done.returncode})")
        return done.stdout

    def sigilforge(self, *args: str, stdin: str | None = None) -> str:
        return self.run([*cli_command(), *args], stdin=stdin, show=["sigilforge", *args])

    def busctl(self, *args: str) -> str:
        return self.run(["busctl", "--user", *args])

    def daemon_running(self) -> bool:
        return self.rig.owner_pid() is not None


def install(demo: Demo) -> None:
    demo.say("Install the D-Bus activation file for this install (as after pip/pipx)")
    demo.sigilforge("service", "install", "--user")
    demo.rig.bus.reload()
    demo.rig.write_config(f"idle_timeout_secs = {IDLE_SECS}\n")
    print(f"(config.toml: idle_timeout_secs = {IDLE_SECS}, so the daemon leaves soon)")


def monitor(demo: Demo) -> None:
    demo.say("Watch the broker's signals from another process")
    rule = f"type='signal',interface='{INTERFACE}'"
    print(f'$ dbus-monitor --session "{rule}" &')
    fh = demo.monitor_out.open("wb")
    demo.monitor = subprocess.Popen(
        ["dbus-monitor", "--session", rule], env=demo.rig.env, stdout=fh, stderr=fh
    )
    time.sleep(0.5)  # a monitor that is not yet listening would miss the first signal


def add_account(demo: Demo) -> None:
    demo.say("No daemon runs yet; adding an account starts it over the bus")
    print(f"daemon running: {demo.daemon_running()}")
    demo.sigilforge("add-account", "openai", "work", "--api-key-stdin", stdin=DEMO_KEY + "\n")
    print(f"daemon running: {demo.daemon_running()} (pid {demo.rig.owner_pid()})")


def activation(demo: Demo) -> None:
    demo.say(f"After {IDLE_SECS}s without calls the daemon exits; busctl brings it back")
    demo.rig.wait_gone(timeout=IDLE_SECS + 10)
    print(f"daemon running: {demo.daemon_running()}")
    demo.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "GetToken", "ss", "openai", "work")
    print(f"daemon running: {demo.daemon_running()} (pid {demo.rig.owner_pid()})")


def use(demo: Demo) -> None:
    demo.say("Scripts use the CLI; it asks the same daemon")
    demo.sigilforge("get-token", "openai", "work")
    demo.sigilforge("list-accounts")
    demo.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "ListAccounts")
    demo.sigilforge("remove-account", "openai", "work")


def signals(demo: Demo) -> None:
    demo.say("What dbus-monitor saw (names and times, never a secret)")
    time.sleep(0.3)
    if demo.monitor is not None:
        demo.monitor.terminate()
        demo.monitor.wait(5)
    lines = demo.monitor_out.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("signal") and f"interface={INTERFACE};" in line:
            member = line.rsplit("member=", 1)[-1]
            args = [ln.strip() for ln in lines[i + 1 : i + 4] if ln.startswith("   ")]
            print(f"{member}({', '.join(args)})")


STEPS: list[Callable[[Demo], None]] = [install, monitor, add_account, activation, use, signals]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="sigilforge-demo-") as tmp:
        root = Path(tmp)
        print("Starting a private D-Bus session bus and a headless gnome-keyring ...")
        with BrokerRig(root, activation=False, standard_dirs=True) as rig:
            demo = Demo(rig, root)
            try:
                for step in STEPS:
                    step(demo)
            finally:
                if demo.monitor is not None and demo.monitor.poll() is None:
                    demo.monitor.terminate()
                    demo.monitor.wait(5)
    print("\nDone; the private bus, keyring and files are gone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
