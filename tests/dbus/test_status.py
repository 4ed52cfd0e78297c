"""``sigilforge status`` reads whether the daemon runs from the bus, without starting it."""

from __future__ import annotations

import json

from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.marker import MARKER


def test_status_names_the_running_daemon_and_its_pid(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", f"sk-{MARKER}")
    before = json.loads(broker_rig.cli("status", "--json").stdout)
    assert before["daemon"] == {"running": False, "pid": None, "bus": "ok"}
    assert broker_rig.owner_pid() is None, "status started the daemon"
    assert broker_rig.busctl_call("ListAccounts").returncode == 0
    pid = broker_rig.owner_pid()
    after = json.loads(broker_rig.cli("status", "--json").stdout)
    assert after["daemon"] == {"running": True, "pid": pid, "bus": "ok"}
