"""The daemon comes when called, leaves when idle or told, and never fights a twin."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from sigilforge.testing.broker_rig import BrokerRig, cli_command, daemon_command
from sigilforge.testing.env import isolated_env


def test_idle_daemon_exits_and_the_next_call_brings_it_back(own_rig: BrokerRig) -> None:
    own_rig.write_config("idle_timeout_secs = 1\n")
    own_rig.add_api_key("openai", "work", "sk-idle")

    first = own_rig.busctl_call("GetToken", "ss", "openai", "work")
    assert first.returncode == 0, first.stderr
    pid = own_rig.owner_pid()
    assert pid is not None

    assert own_rig.wait_gone(timeout=15), "the daemon did not exit when idle"
    assert "stopping: idle" in own_rig.log_text()

    again = own_rig.busctl_call("GetToken", "ss", "openai", "work")
    assert again.stdout == first.stdout
    assert own_rig.owner_pid() not in (None, pid)


def test_sigterm_stops_the_daemon_cleanly(broker_rig: BrokerRig) -> None:
    assert broker_rig.busctl_call("ListAccounts").returncode == 0
    broker_rig.stop_daemon(timeout=10)
    assert "stopping: stopped" in broker_rig.log_text()
    assert "Traceback" not in broker_rig.log_text()


def test_a_second_daemon_exits_at_once_without_touching_the_store(
    broker_rig: BrokerRig, tmp_path: Path
) -> None:
    assert broker_rig.busctl_call("ListAccounts").returncode == 0
    running = broker_rig.owner_pid()

    # Its own home, with an accounts file it would move aside if it read it.
    env = isolated_env(tmp_path / "twin")
    env["DBUS_SESSION_BUS_ADDRESS"] = broker_rig.bus.address
    accounts = Path(env["XDG_CONFIG_HOME"]) / "sigilforge" / "accounts.json"
    accounts.parent.mkdir(parents=True)
    accounts.write_text("{ not json")
    before = _tree(tmp_path / "twin")

    done = subprocess.run(
        [*daemon_command(), "-v"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "another broker owns" in done.stderr
    assert _tree(tmp_path / "twin") == before
    assert accounts.read_text() == "{ not json"
    assert broker_rig.owner_pid() == running


def _tree(root: Path) -> dict[str, float]:
    return {
        os.path.relpath(os.path.join(d, f), root): os.stat(os.path.join(d, f)).st_mtime
        for d, _, files in os.walk(root)
        for f in files
    } | {os.path.relpath(d, root): 0.0 for d, _, _ in os.walk(root)}


def test_the_cli_daemon_verb_serves_and_honours_idle_timeout(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", "sk-verb")
    daemon = subprocess.Popen(
        [*cli_command(), "daemon", "--idle-timeout", "1"],
        env=broker_rig.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while broker_rig.owner_pid() != daemon.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        got = broker_rig.busctl_call("GetToken", "ss", "openai", "work")
        assert got.stdout.strip() == 'sx "sk-verb" 0'
        assert daemon.wait(20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(5)
    assert daemon.stderr is not None
    assert "stopping: idle" in daemon.stderr.read()
