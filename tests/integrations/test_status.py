"""``sigilforge status`` and the ``--json`` listings, read the way a script reads them."""

from __future__ import annotations

import json
import subprocess

import pytest

from sigilforge import AddOptions, Broker, ReauthRequired
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.broker_rig import cli_command
from sigilforge.testing.cli import run_cli_in
from sigilforge.testing.home import Home, Isolated
from sigilforge.testing.marker import MARKER
from sigilforge.testing.signin import sign_in, write_provider


def _cli(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli_in({**home.env, "SIGILFORGE_NO_DAEMON": "1"}, *args)


def test_status_reports_accounts_store_files_and_exits_zero_when_all_is_well(
    home: Home, auth_server: AuthServer
) -> None:
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
        broker.add_account("openai", "work", _api_key()).result(5)
    done = _cli(home, "status", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["store"]["state"] == "ok"
    assert report["files"]["accounts"] == str(home.accounts_file)
    by_name = {(a["service"], a["account"]): a for a in report["accounts"]}
    alice = by_name[("corp", "alice")]
    assert (alice["kind"], alice["status"]) == ("oauth2", "ok")
    assert alice["expires_at"] > alice["last_refresh"] > 0
    assert by_name[("openai", "work")]["kind"] == "api_key"
    assert MARKER not in done.stdout + done.stderr
    text = _cli(home, "status")
    assert text.returncode == 0
    assert "corp/alice: oauth2, ok" in text.stdout


def test_status_exits_non_zero_when_an_account_must_sign_in_again(
    home: Home, auth_server: AuthServer
) -> None:
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
        auth_server.fail_next("invalid_grant")
        with pytest.raises(ReauthRequired):
            broker.refresh_token("corp", "alice")
    done = _cli(home, "status")
    assert done.returncode == 5, done.stdout + done.stderr
    assert "sign in again: sigilforge add-account corp alice" in done.stdout


def test_listings_have_json(home: Home, auth_server: AuthServer) -> None:
    write_provider(home, auth_server)
    providers = _cli(home, "provider", "list", "--json")
    assert providers.returncode == 0, providers.stderr
    assert "corp" in json.loads(providers.stdout)
    assert json.loads(_cli(home, "list-accounts", "--json").stdout) == []


def test_shell_completion_offers_service_and_account_names(home: Home) -> None:
    with Broker.open() as broker:
        broker.add_account("openai", "work", _api_key()).result(5)
        broker.add_account("openai", "home", _api_key()).result(5)
    env = {**home.env, "_SIGILFORGE_COMPLETE": "bash_complete", "COMP_WORDS": "", "COMP_CWORD": ""}
    for words, cword, expected in (
        ("sigilforge get-token op", "2", ["openai"]),
        ("sigilforge get-token openai ", "3", ["home", "work"]),
        ("sigilforge remove-account openai w", "3", ["work"]),
    ):
        env.update(COMP_WORDS=words, COMP_CWORD=cword)
        done = subprocess.run(
            cli_command(), env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        offered = [line.split(",", 1)[1] for line in done.stdout.splitlines()]
        assert offered == expected, (words, done.stdout)


def _api_key() -> AddOptions:
    return AddOptions(api_key=f"sk-{MARKER}")


def test_status_says_the_store_is_locked_and_exits_4(fresh_keyring: Isolated) -> None:
    env = {**fresh_keyring.env, "SIGILFORGE_NO_DAEMON": "1"}
    added = run_cli_in(env, "add-account", "openai", "work", "--api-key-stdin", stdin="sk-x\n")
    assert added.returncode == 0, added.stderr
    assert fresh_keyring.keyring is not None
    fresh_keyring.keyring.lock()
    done = run_cli_in(env, "status", "--json")
    assert done.returncode == 4, done.stderr
    report = json.loads(done.stdout)
    assert report["store"]["state"] == "locked"
    assert [a["account"] for a in report["accounts"]] == ["work"]


def test_status_says_the_store_is_missing_and_exits_4(bare_bus: Isolated) -> None:
    done = run_cli_in({**bare_bus.env, "SIGILFORGE_NO_DAEMON": "1"}, "status")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "store: auto, unavailable" in done.stdout
