"""Try Sigilforge without a desktop, an account at any provider, or a network.

``make demo`` (or ``python -m demo.try_it`` from the repository root) runs, on a private
D-Bus session bus with a headless gnome-keyring of its own (your own bus and keyring are
never touched):

1. ``sigilforge service install``: the activation file, as for a pip install;
2. a ``dbus-monitor`` in another process, watching the broker's signals;
3. ``sigilforge add-account``: an API key, which starts the daemon (AccountAdded);
4. the daemon leaving when idle, and ``busctl --user call ... GetToken`` bringing it back;
5. ``sigilforge get-token``, ``list-accounts``, ``remove-account`` (AccountRemoved);
6. an OAuth account: a local authorization server (``sigilforge/testing/authserver.py``),
   ``sigilforge add-account --no-browser`` through the daemon with the browser flow, the
   printed URL followed and consented headlessly; its short-lived token refreshed by the
   daemon on its own before it expires, which the monitor sees as ``TokenRefreshed``;
7. what the monitor saw.

Each step is a function in ``STEPS``; add one to show more.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sigilforge.testing.authserver import consent, run_for_demo
from sigilforge.testing.broker_rig import BUS_NAME, INTERFACE, OBJECT_PATH, BrokerRig, cli_command
from sigilforge.testing.cli import CliFlow
from sigilforge.testing.monitor import RULES, Monitor

DEMO_KEY = "sk-demo-0123456789abcdef"
IDLE_SECS = 2
# Short enough to watch the daemon refresh it, long enough for the steps around it.
TOKEN_SECS = 6


class Demo:
    def __init__(self, rig: BrokerRig, root: Path) -> None:
        self.rig = rig
        self.root = root
        self.monitor: Monitor | None = None
        self.monitor_out = root / "monitor.txt"
        self.cleanups: list[Callable[[], object]] = []

    def say(self, text: str) -> None:
        # Bold only on a terminal (and never with NO_COLOR): piped, it is plain text.
        bold = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        heading = f"# {text}"
        print(f"\n\033[1m{heading}\033[0m" if bold else f"\n{heading}", flush=True)

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
    demo.sigilforge("service", "install")
    demo.rig.bus.reload()
    demo.rig.write_config(f"idle_timeout_secs = {IDLE_SECS}\n")
    print(f"(config.toml: idle_timeout_secs = {IDLE_SECS}, so the daemon leaves soon)")


def monitor(demo: Demo) -> None:
    demo.say("Watch the broker's signals from another process")
    # Shown as a user would type it: double quotes outside, the rules' single quotes inside.
    shown = " ".join('"' + rule + '"' for rule in RULES)
    print(f"$ dbus-monitor --session {shown} &")
    # It returns once the monitor listens: a signal sent before would be missed.
    demo.monitor = Monitor(demo.rig.env, demo.monitor_out)


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
    print(
        '(busctl prints the reply\'s signature, then its values: "sx" is a string, the key,\n'
        " and a 64-bit integer, when it expires in Unix seconds; D-Bus has no null, so 0 there\n"
        " means never)"
    )
    print(f"daemon running: {demo.daemon_running()} (pid {demo.rig.owner_pid()})")


def use(demo: Demo) -> None:
    demo.say("Scripts use the CLI; it asks the same daemon")
    demo.sigilforge("get-token", "openai", "work")
    demo.sigilforge("list-accounts")
    demo.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "ListAccounts")
    demo.sigilforge("remove-account", "openai", "work")


def oauth(demo: Demo) -> None:
    demo.say("An OAuth account: the browser flow against a local authorization server")
    server = run_for_demo(demo.rig.config_dir, token_lifetime=TOKEN_SECS)
    demo.cleanups.append(server.stop)
    print(f"(an OAuth 2.0 server on {server.issuer}; its access tokens live {TOKEN_SECS}s)")
    print("$ cat ~/.config/sigilforge/providers.toml")
    print((demo.rig.config_dir / "providers.toml").read_text().rstrip())
    # The next daemon must outlive the token: let the current one go, then lengthen it.
    if not demo.rig.wait_gone(timeout=IDLE_SECS + 10):
        raise SystemExit("demo step failed: the daemon did not leave when idle")
    demo.rig.write_config("idle_timeout_secs = 60\n")
    print("(config.toml: idle_timeout_secs = 60, so the next daemon outlives the token)")

    args = ("add-account", "corp", "alice", "--no-browser")
    print(f"$ sigilforge {shlex.join(args)}", flush=True)
    flow = CliFlow(demo.rig.env, *args)
    url = flow.line_after("Open this address in a browser")
    shown = len(flow.lines)
    print("\n".join(flow.lines[:shown]), flush=True)
    page = consent(url)
    print(f"(a headless user opens it and consents; the redirect lands: HTTP {page.status_code})")
    code, _, _ = flow.finish()
    print("\n".join(flow.lines[shown:]), flush=True)
    if code != 0:
        raise SystemExit(f"demo step failed (exit {code})")
    print(f"daemon running: {demo.daemon_running()} (pid {demo.rig.owner_pid()})")

    demo.say("Its token expires; the daemon refreshes it ahead of time, with nobody calling")
    first, expires = _token(demo)
    print(f"(expires at {_clock(expires)}, in {expires - time.time():.0f}s)")
    assert demo.monitor is not None
    started = time.monotonic()
    if not demo.monitor.wait_for("member=TokenRefreshed", timeout=TOKEN_SECS + 10):
        raise SystemExit("demo step failed: the daemon did not refresh the token")
    print(f"{time.monotonic() - started:.1f}s later dbus-monitor printed:")
    print("\n".join(demo.monitor.raw("TokenRefreshed")))
    second, renewed = _token(demo)
    if second == first or renewed <= expires:
        raise SystemExit("demo step failed: the token was not renewed")
    print(f"(a new token, valid until {_clock(renewed)})")
    demo.sigilforge("remove-account", "corp", "alice")


def _token(demo: Demo) -> tuple[str, int]:
    reply = demo.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "GetToken", "ss", "corp", "alice")
    _, token, expires = reply.split()
    return token, int(expires)


def _clock(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


def signals(demo: Demo) -> None:
    demo.say("What dbus-monitor saw (names and times, never a secret)")
    if demo.monitor is not None:
        demo.monitor.stop()
        for line in demo.monitor.signals():
            print(line)


STEPS: list[Callable[[Demo], None]] = [
    install,
    monitor,
    add_account,
    activation,
    use,
    oauth,
    signals,
]


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
                if demo.monitor is not None:
                    demo.monitor.stop()
                for cleanup in reversed(demo.cleanups):
                    cleanup()
    print("\nDone; the private bus, keyring and files are gone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
