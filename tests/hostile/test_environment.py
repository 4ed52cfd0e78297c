"""The environment changes under the broker: the keyring restarted, locked, gone or
emptied, a typo in config.toml, one bad providers.toml entry, a provider that cannot
revoke. Each case runs the real daemon (activated on a private bus) or the real CLI,
with a real gnome-keyring, and asserts what the user sees: one line, a named error, the
right exit code, and the next call that can succeed does, without a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import RunCli
from sigilforge.testing.home import Home, Isolated
from sigilforge.testing.keyring import clear_items
from sigilforge.testing.signin import sign_in, write_provider

pytestmark = pytest.mark.hostile


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokerRig]:
    """A bus, keyring and activatable daemon of this test's own (it restarts things)."""
    with BrokerRig(tmp_path / "rig") as own:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", own.bus.address)
        yield own


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    return lines[0]


# -- item 1: gnome-keyring restarted under a running daemon ----------------------------


def test_keyring_restarted_under_a_running_daemon_is_reconnected(rig: BrokerRig) -> None:
    assert rig.keyring is not None
    rig.write_config("idle_timeout_secs = 3\n")
    rig.add_api_key("openai", "work", "sk-one")
    assert rig.cli("get-token", "openai", "work").stdout == "sk-one\n"
    daemon = rig.owner_pid()
    assert daemon is not None

    rig.keyring.stop()
    down = rig.cli("add-account", "openai", "down", "--api-key-stdin", stdin="sk-x\n")
    assert down.returncode == 4, down.stderr
    assert "gnome-keyring" in _one_line(down)  # says what to start

    rig.keyring.start()
    added = rig.cli("add-account", "openai", "home", "--api-key-stdin", stdin="sk-two\n")
    assert added.returncode == 0, added.stderr
    assert rig.cli("get-token", "openai", "home").stdout == "sk-two\n"
    assert rig.owner_pid() == daemon, "no restart of the broker was needed"
    # Failed calls left nothing running: the daemon still leaves when idle.
    assert rig.wait_gone(timeout=30)


def test_keyring_replaced_under_a_running_daemon_is_reconnected(rig: BrokerRig) -> None:
    rig.add_api_key("openai", "work", "sk-one")
    assert rig.cli("list-accounts").returncode == 0
    assert rig.keyring is not None
    rig.keyring.start(replace=True)
    added = rig.cli("add-account", "openai", "home", "--api-key-stdin", stdin="sk-two\n")
    assert added.returncode == 0, added.stderr
    assert rig.cli("get-token", "openai", "home").stdout == "sk-two\n"


# -- item 2: a typo in config.toml ------------------------------------------------------


def test_config_typo_is_the_same_named_error_through_the_daemon(rig: BrokerRig) -> None:
    rig.write_config("store = auto\n")
    local = rig.cli("--no-daemon", "list-accounts")
    assert local.returncode == 2
    # The file is named with its full path (issue 12): a new user does not know the dir.
    config = rig.config_dir / "config.toml"
    assert _one_line(local).startswith(f"sigilforge: {config}: Invalid value")
    daemons = set()
    for _ in range(10):
        done = rig.cli("list-accounts")
        assert (done.returncode, done.stderr) == (2, local.stderr)
        daemons.add(rig.owner_pid())
    assert None not in daemons
    assert len(daemons) == 1, "one daemon, no crash loop"
    assert len(rig.log_text().splitlines()) <= 20, rig.log_text()
    # Fixed by hand: the next call works, same daemon.
    rig.write_config("store = 'auto'\n")
    fixed = rig.cli("list-accounts")
    assert fixed.returncode == 0, fixed.stderr
    assert {rig.owner_pid()} == daemons


# -- item 9 through the daemon: a FIFO never wedges it ---------------------------------


def test_fifo_accounts_json_never_wedges_the_daemon(rig: BrokerRig) -> None:
    rig.config_dir.mkdir(parents=True, exist_ok=True)
    fifo = rig.config_dir / "accounts.json"
    os.mkfifo(fifo, 0o600)
    for _ in range(2):
        done = rig.cli("list-accounts")
        assert done.returncode == 4, done.stderr
        assert "FIFO" in _one_line(done)
    fifo.unlink()
    assert rig.cli("list-accounts").returncode == 0


# -- item 4: one bad providers.toml entry ----------------------------------------------


def test_one_bad_provider_entry_breaks_only_itself(
    home: Home, run_cli: RunCli, auth_server: AuthServer
) -> None:
    from sigilforge.broker import Broker

    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
    providers = home.config_dir / "providers.toml"
    providers.write_text(
        providers.read_text() + '\n[providers.broken]\nissuer = "http://example.com"\n'
    )
    bad = run_cli("--no-daemon", "add-account", "broken", "me", "--no-browser")
    assert bad.returncode == 2, bad.stderr
    assert "providers.broken" in _one_line(bad)
    # The other provider's accounts keep working, in the background refresh too.
    with Broker.open() as broker:
        assert broker.refresh_token("corp", "alice").token
        assert "corp" in broker.provider_names()
    assert auth_server.token_requests("refresh_token") == 1


# -- item 5: RemoveAccount says what happened ----------------------------------------


def test_remove_account_through_the_daemon_reports_a_failed_revocation(
    rig: BrokerRig, auth_server: AuthServer
) -> None:
    from sigilforge.dbus.blocking import BlockingClient

    write_provider(rig.home, auth_server)
    client = BlockingClient.connect()
    try:
        sign_in(client, "alice")
        sign_in(client, "bob")
    finally:
        client.close()
    # The provider is gone (and a fresh daemon has no connection kept to it).
    rig.stop_daemon()
    auth_server.stop()
    done = rig.cli("remove-account", "corp", "alice")
    assert done.returncode == 0, done.stderr
    assert "revocation failed" in done.stderr
    assert "removed locally" in done.stderr
    raw = rig.busctl_call("RemoveAccount", "ss", "corp", "bob")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.startswith("a{sv} ")
    assert '"revoked" b false' in raw.stdout
    assert '"revocation_error" s' in raw.stdout


# -- item 6: truthful status, the real reason, fast -------------------------------------


def _statuses(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    return {f"{a['service']}/{a['account']}": a["status"] for a in json.loads(done.stdout)}


def test_list_accounts_says_locked_and_secret_missing(rig: BrokerRig) -> None:
    assert rig.keyring is not None
    rig.add_api_key("openai", "work", "sk-one")
    rig.add_api_key("openai", "gone", "sk-two")
    subprocess.run(
        ["secret-tool", "clear", "service", "openai", "account", "gone"],
        env=rig.env,
        check=True,
        timeout=10,
    )
    listed = _statuses(rig.cli("list-accounts", "--json"))
    assert listed == {"openai/work": "ok", "openai/gone": "secret_missing"}
    rig.keyring.lock()
    for args in (("list-accounts", "--json"), ("--no-daemon", "list-accounts", "--json")):
        assert set(_statuses(rig.cli(*args)).values()) == {"locked"}


def test_no_secret_service_is_named_at_once_with_what_to_start(
    bare_bus: Isolated, tmp_path: Path
) -> None:
    from sigilforge.testing.cli import run_cli_in

    env = {**bare_bus.env, "SIGILFORGE_NO_DAEMON": "1"}
    config = Path(env["XDG_CONFIG_HOME"]) / "sigilforge"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('store = "secret-service"\n')
    record = {"service": "openai", "account": "work", "kind": "api_key"}
    (config / "accounts.json").write_text(json.dumps({"version": 1, "accounts": [record]}))
    got = run_cli_in(env, "get-token", "openai", "work")
    assert got.returncode == 4, got.stderr
    line = _one_line(got)
    assert "within" not in line
    assert "gnome-keyring-daemon --components=secrets" in line
    assert _statuses(run_cli_in(env, "list-accounts", "--json")) == {"openai/work": "unavailable"}


def test_secret_gone_behind_the_brokers_back_in_process(home: Home, run_cli: RunCli) -> None:
    assert (
        run_cli("--no-daemon", "add-account", "x", "y", "--api-key-stdin", stdin="k\n").returncode
        == 0
    )
    clear_items(home.env)
    listed = _statuses(run_cli("--no-daemon", "list-accounts", "--json"))
    assert listed == {"x/y": "secret_missing"}
