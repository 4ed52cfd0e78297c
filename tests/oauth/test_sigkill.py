"""A refresh killed with SIGKILL at any point leaves the account usable or cleanly
``reauth_required``, never with a half-written token set."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import httpx2
import pytest

from sigilforge.broker import Broker
from sigilforge.model import AccountStatus
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.cli import run_cli_in
from sigilforge.testing.home import Home
from sigilforge.testing.signin import sign_in, stored_tokens, write_provider


def _expire(broker: Broker) -> None:
    tokens = stored_tokens()
    assert tokens.expires_at is not None
    time.sleep(max(0.0, tokens.expires_at - time.time()) + 0.1)


def _check_and_recover(broker: Broker, home: Home, server: AuthServer) -> str:
    acc = broker.get_account("corp", "alice")
    # Parses whole (StoreCorrupt otherwise): one item, replaced in one step.
    stored_tokens()
    result = run_cli_in(home.env, "get-token", "corp", "alice")
    if acc.status is AccountStatus.OK and result.returncode == 0:
        token = result.stdout.strip()
        answer = httpx2.get(
            f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200
        return "usable"
    # The server rotated the refresh token but the killed process never stored it: the
    # old one is refused, and the account says so instead of failing obscurely.
    assert result.returncode == 5, result.stderr
    assert broker.get_account("corp", "alice").status is AccountStatus.REAUTH_REQUIRED
    sign_in(broker, "alice")
    return "reauth_required"


@pytest.mark.slow
def test_sigkill_during_refresh(home: Home, auth_server: AuthServer) -> None:
    auth_server.token_lifetime = 1
    write_provider(home, auth_server)
    broker = Broker.open()
    sign_in(broker, "alice")
    outcomes: Counter[str] = Counter()

    # Killed while the server has done the rotation and its answer is on the way.
    _expire(broker)
    auth_server.fail_next("late", delay=2)
    before = auth_server.token_requests()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sigilforge", "get-token", "corp", "alice"],
        env=home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while auth_server.token_requests() == before and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    outcomes[_check_and_recover(broker, home, auth_server)] += 1
    assert outcomes["reauth_required"] == 1

    # Killed at spread-out moments: before, during and after the refresh.
    for delay in (0.15, 0.3, 0.45, 0.6, 0.8, 1.0):
        _expire(broker)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sigilforge", "get-token", "corp", "alice"],
            env=home.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        outcomes[_check_and_recover(broker, home, auth_server)] += 1
    assert sum(outcomes.values()) == 7
    broker.close()
