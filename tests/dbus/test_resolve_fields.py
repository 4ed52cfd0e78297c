"""Every reference field resolves to the same value on the bus (``Resolve``), through
``sigilforge resolve`` talking to the daemon, and through the CLI in-process; fields that
never resolve are refused alike."""

from __future__ import annotations

import pytest

from sigilforge.testing.authserver import consent
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import CliFlow
from sigilforge.testing.marker import MARKER

KEY = f"sk-{MARKER}"


def _busctl(rig: BrokerRig, reference: str) -> tuple[int, str]:
    done = rig.busctl_call("Resolve", "s", reference)
    if done.returncode != 0:
        return done.returncode, done.stderr
    # busctl prints `s "VALUE"`
    return 0, done.stdout.strip().removeprefix('s "').removesuffix('"')


def _three_ways(rig: BrokerRig, reference: str) -> tuple[str, str, str]:
    code, bus = _busctl(rig, reference)
    assert code == 0, bus
    daemon = rig.cli("resolve", reference)
    assert daemon.returncode == 0, daemon.stderr
    local = rig.cli("--no-daemon", "resolve", reference)
    assert local.returncode == 0, local.stderr
    return bus, daemon.stdout.removesuffix("\n"), local.stdout.removesuffix("\n")


def _sign_in(rig: BrokerRig) -> None:
    flow = CliFlow(rig.env, "--no-daemon", "add-account", "corp", "alice", "--no-browser")
    assert consent(flow.line_after("Open this address in a browser")).status_code == 200
    code, _, err = flow.finish()
    assert code == 0, err


def test_every_field_of_an_oauth_account_agrees(corp_rig: BrokerRig) -> None:
    _sign_in(corp_rig)
    token = corp_rig.cli("--no-daemon", "get-token", "corp", "alice").stdout.strip()
    assert MARKER in token
    expected = {
        "auth://corp/alice": token,
        "auth://corp/alice/token": token,
        "auth://corp/alice/access_token": token,
        "auth://corp/alice/username": "alice",
    }
    for reference, value in expected.items():
        assert _three_ways(corp_rig, reference) == (value, value, value), reference
    bus, daemon, local = _three_ways(corp_rig, "auth://corp/alice/expires_at")
    assert bus == daemon == local
    assert int(bus) > 0


def test_every_field_of_an_api_key_account_agrees(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", KEY)
    expected = {
        "auth://openai/work": KEY,
        "auth://openai/work/token": KEY,
        "auth://openai/work/api_key": KEY,
        "auth://openai/work/username": "work",
        "auth://openai/work/expires_at": "0",
    }
    for reference, value in expected.items():
        assert _three_ways(broker_rig, reference) == (value, value, value), reference


@pytest.mark.parametrize(
    "field", ["refresh_token", "client_secret", "access_token", "password", "id_token"]
)
def test_fields_that_do_not_resolve_are_refused_alike(broker_rig: BrokerRig, field: str) -> None:
    broker_rig.add_api_key("openai", "work", KEY)
    reference = f"auth://openai/work/{field}"
    code, err = _busctl(broker_rig, reference)
    assert code != 0
    assert KEY not in err
    for args in (("resolve", reference), ("--no-daemon", "resolve", reference)):
        done = broker_rig.cli(*args)
        assert done.returncode == 2, done.stderr
        assert KEY not in done.stdout + done.stderr
