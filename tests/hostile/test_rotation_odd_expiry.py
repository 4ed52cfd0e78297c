"""A rotation answered with an odd ``expires_in`` (huge, infinite, negative, not a number,
NaN): nothing crashes, the rotated refresh token is kept, ``ListAccounts`` keeps working
over the bus for every account, and the next refresh works. A bad value already stored
by an older version is read back clamped, so the bus never sees an int64 overflow."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.hostile_report import Recorder
from sigilforge.testing.signin import write_provider
from tests.hostile.test_rotation import sign_in, stored_refresh_token

ODD = [1e20, math.inf, -5, "abc", math.nan, 0, "3600"]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[BrokerRig]:
    with BrokerRig(tmp_path / "rig") as mine:
        yield mine


def test_odd_expires_in_keeps_the_rotation_and_the_bus_working(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder
) -> None:
    write_provider(rig.home, auth_server)
    sign_in(rig)
    rig.add_api_key("openai", "work", "sk-odd-expiry")
    passed = 0
    for odd in ODD:
        auth_server.refresh_expires_in = odd
        before = stored_refresh_token(rig)
        done = rig.cli("refresh-token", "corp", "alice")
        assert done.returncode == 0, (odd, done.stderr)
        after = stored_refresh_token(rig)
        assert after is not None
        assert after != before, f"rotation lost for expires_in={odd!r}"
        assert auth_server.introspect(after)
        listed = rig.busctl_call("ListAccounts")
        assert listed.returncode == 0, (odd, listed.stderr)
        assert "alice" in listed.stdout
        assert "work" in listed.stdout
        passed += 1
    auth_server.refresh_expires_in = None
    done = rig.cli("refresh-token", "corp", "alice")
    assert done.returncode == 0, done.stderr
    hostile_record("sanitising", "odd expires_in in a rotation", len(ODD), passed)


def test_a_stored_out_of_range_expiry_is_read_back_clamped(
    rig: BrokerRig, auth_server: AuthServer
) -> None:
    write_provider(rig.home, auth_server)
    sign_in(rig)
    accounts = rig.home.accounts_file
    data = json.loads(accounts.read_text())
    for record in data["accounts"] if isinstance(data, dict) else data:
        record["expires_at"] = 10**20
        record["created_at"] = 10**25
    accounts.write_text(json.dumps(data))
    listed = rig.busctl_call("ListAccounts")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout
    done = rig.cli("get-token", "corp", "alice")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (1e20, 366 * 24 * 3600),
        (math.inf, 366 * 24 * 3600),
        (-5, 1),
        (0, 1),
        ("abc", 300),
        (math.nan, 300),
        (True, 300),
        ("3600", 3600),
        (59.9, 59),
    ],
)
def test_lifetime_is_clamped_to_a_safe_range(sent: object, kept: int) -> None:
    from sigilforge.oauth.token_endpoint import lifetime

    assert lifetime(sent) == kept
