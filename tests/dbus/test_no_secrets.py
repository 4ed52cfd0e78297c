"""The marker secret never shows up in signals, error texts, logs or ListAccounts."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.conftest import MARKER
from tests.support.broker_rig import BrokerRig

KEY = f"sk-{MARKER}-leak-check"


class Monitor:
    """A separate ``dbus-monitor`` process watching the broker's signals."""

    def __init__(self, rig: BrokerRig, out: Path) -> None:
        self.out = out
        self._fh = out.open("w")
        rules = [
            "type='signal',interface='org.sigilforge.Broker1'",
            "type='signal',interface='org.sigilforge.Broker1.Request'",
        ]
        self._proc = subprocess.Popen(
            ["dbus-monitor", "--session", *rules],
            env=rig.env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )
        self._rig = rig
        self._wait_for("member=Probe")

    def _wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Signals sent before the monitor is in place are lost: probe until one shows.
            subprocess.run(
                [
                    "dbus-send",
                    "--session",
                    "--type=signal",
                    "/probe",
                    "org.sigilforge.Broker1.Probe",
                ],
                env=self._rig.env,
                timeout=5,
                check=False,
            )
            if text in self.out.read_text():
                return
            time.sleep(0.05)
        raise RuntimeError("dbus-monitor did not start")

    def stop(self) -> str:
        time.sleep(0.2)  # let the last signals arrive
        self._proc.terminate()
        self._proc.wait(5)
        self._fh.close()
        return self.out.read_text()


def test_marker_never_leaks_and_signals_are_seen_by_a_monitor(
    broker_rig: BrokerRig, tmp_path: Path
) -> None:
    monitor = Monitor(broker_rig, tmp_path / "monitor.txt")
    outputs: list[str] = []

    def cli(*args: str, stdin: str | None = None, expect: int = 0) -> str:
        done = broker_rig.cli(*args, stdin=stdin)
        assert done.returncode == expect, (args, done.stderr)
        outputs.append(done.stderr)
        return done.stdout

    cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY + "\n")
    assert cli("get-token", "openai", "work") == KEY + "\n"
    cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY + "\n", expect=3)
    cli("get-token", "openai", "nobody", expect=3)
    cli("resolve", "auth://openai/work/refresh_token", expect=2)
    cli("resolve", f"auth://openai/{MARKER[:8]}", expect=3)
    listed = cli("list-accounts", "--json")
    reply = broker_rig.busctl_call("ListAccounts")
    cli("remove-account", "openai", "work")

    signals = monitor.stop()
    assert "member=AccountAdded" in signals
    assert "member=AccountRemoved" in signals
    assert '"openai"' in signals
    assert MARKER not in signals
    assert MARKER not in listed
    assert MARKER not in reply.stdout
    for text in outputs:
        assert MARKER not in text
    log = broker_rig.log_text()
    assert "call failed: NoSuchAccount" in log  # it did log, at -v
    assert MARKER not in log
