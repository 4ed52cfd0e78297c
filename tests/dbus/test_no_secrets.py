"""The marker secret never shows up in signals, error texts, logs or ListAccounts."""

from __future__ import annotations

from pathlib import Path

from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.marker import MARKER
from sigilforge.testing.monitor import Monitor

KEY = f"sk-{MARKER}-leak-check"


def test_marker_never_leaks_and_signals_are_seen_by_a_monitor(
    broker_rig: BrokerRig, tmp_path: Path
) -> None:
    monitor = Monitor(broker_rig.env, tmp_path / "monitor.txt")
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
