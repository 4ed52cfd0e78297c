"""``get-token --format`` prints the same through the daemon (the fast path) and in-process."""

from __future__ import annotations

import pytest

from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.marker import MARKER

KEY = f"sk-{MARKER}"


@pytest.mark.parametrize(
    "options",
    [
        ("--format", "token"),
        ("--format", "header"),
        ("--format", "json"),
        ("--format", "xoauth2", "--user", "a@b.test"),
        ("--format", "oauthbearer", "--user", "a@b.test"),
    ],
)
def test_daemon_and_in_process_agree(broker_rig: BrokerRig, options: tuple[str, ...]) -> None:
    broker_rig.add_api_key("openai", "work", KEY)
    daemon = broker_rig.cli("get-token", "openai", "work", *options)
    local = broker_rig.cli("--no-daemon", "get-token", "openai", "work", *options)
    assert daemon.returncode == 0, daemon.stderr
    assert local.returncode == 0, local.stderr
    assert daemon.stdout == local.stdout
    assert daemon.stderr == ""


@pytest.mark.parametrize(
    "options", [("--format", "xoauth2"), ("--format", "token", "--user", "a"), ("--format", "x")]
)
def test_bad_options_are_usage_errors_either_way(
    broker_rig: BrokerRig, options: tuple[str, ...]
) -> None:
    broker_rig.add_api_key("openai", "work", KEY)
    for prefix in ((), ("--no-daemon",)):
        done = broker_rig.cli(*prefix, "get-token", "openai", "work", *options)
        assert done.returncode == 2, (prefix, done.stderr)
        assert KEY not in done.stdout + done.stderr
