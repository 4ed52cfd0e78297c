"""The `sigilforge` command as a user runs it: real processes, real keyring."""

from __future__ import annotations

import json
import stat
import subprocess
import time

import pytest

from sigilforge.testing.cli import RunCli, run_cli_in
from sigilforge.testing.home import Home, Isolated
from sigilforge.testing.marker import MARKER

KEY = f"sk-{MARKER}"

# These tests are about the in-process path; tests/dbus/ covers the same verbs over the bus.
IN_PROCESS = {"SIGILFORGE_NO_DAEMON": "1"}


@pytest.fixture
def run_cli(home: Home) -> RunCli:
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli_in(home.env | IN_PROCESS, *args, stdin=stdin)

    return run


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert "Traceback" not in proc.stdout


def _keyring_search(env: dict[str, str]) -> str:
    found = subprocess.run(
        ["secret-tool", "search", "--all", "xdg:schema", "org.sigilforge.Token1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return found.stdout + found.stderr


def test_api_key_from_stdin_then_get_token_and_resolve(run_cli: RunCli, home: Home) -> None:
    added = run_cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == ""
    assert MARKER not in added.stderr

    token = run_cli("get-token", "openai", "work")
    assert (token.returncode, token.stdout) == (0, KEY + "\n")

    resolved = run_cli("resolve", "auth://openai/work/api_key")
    assert (resolved.returncode, resolved.stdout) == (0, KEY + "\n")

    assert KEY in _keyring_search(home.env)

    assert MARKER not in home.accounts_file.read_text()
    assert stat.S_IMODE(home.accounts_file.stat().st_mode) == 0o600


def test_list_accounts_table_and_json(run_cli: RunCli) -> None:
    run_cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY)
    table = run_cli("list-accounts")
    assert table.returncode == 0
    assert "openai" in table.stdout
    assert "api_key" in table.stdout
    assert MARKER not in table.stdout
    listed = json.loads(run_cli("list-accounts", "--json").stdout)
    assert [(a["service"], a["account"], a["status"]) for a in listed] == [("openai", "work", "ok")]


def test_remove_account_deletes_the_secret(run_cli: RunCli, home: Home) -> None:
    run_cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY)
    removed = run_cli("remove-account", "openai", "work")
    assert removed.returncode == 0, removed.stderr
    gone = run_cli("get-token", "openai", "work")
    assert gone.returncode == 3
    assert KEY not in _keyring_search(home.env)


def test_each_error_kind_has_its_own_exit_code(run_cli: RunCli) -> None:
    missing = run_cli("get-token", "openai", "nobody")
    assert missing.returncode == 3
    assert missing.stderr.startswith("sigilforge: ")
    assert missing.stderr.count("\n") == 1

    bad_ref = run_cli("resolve", "auth://openai")
    assert bad_ref.returncode == 2

    secret_ref = run_cli("resolve", "auth://openai/work/refresh_token")
    assert secret_ref.returncode == 2
    assert "never" in secret_ref.stderr

    empty_key = run_cli("add-account", "openai", "work", "--api-key-stdin", stdin="\n")
    assert empty_key.returncode == 2

    run_cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY)
    twice = run_cli("add-account", "openai", "work", "--api-key-stdin", stdin="other")
    assert twice.returncode == 3
    for proc in (missing, bad_ref, secret_ref, empty_key, twice):
        _no_traceback(proc)
        assert proc.stdout == ""


def test_locked_keyring_is_its_own_error_and_deletes_nothing(fresh_keyring: Isolated) -> None:
    env = fresh_keyring.env
    assert (
        run_cli_in(
            env | IN_PROCESS, "add-account", "openai", "work", "--api-key-stdin", stdin=KEY
        ).returncode
        == 0
    )
    assert fresh_keyring.keyring is not None
    fresh_keyring.keyring.lock()

    locked = run_cli_in(env | IN_PROCESS, "get-token", "openai", "work")
    assert locked.returncode == 4
    assert "locked" in locked.stderr
    _no_traceback(locked)
    removed = run_cli_in(env | IN_PROCESS, "remove-account", "openai", "work")
    assert removed.returncode == 4
    _no_traceback(removed)

    listed = json.loads(run_cli_in(env | IN_PROCESS, "list-accounts", "--json").stdout)
    assert [a["account"] for a in listed] == ["work"], "metadata survived"
    items = subprocess.run(
        [
            "busctl",
            "--user",
            "get-property",
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets/collection/login",
            "org.freedesktop.Secret.Collection",
            "Items",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    assert items.stdout.split()[1] != "0", "the item is still in the keyring"


def test_no_secret_service_is_unavailable_within_2s(bare_bus: Isolated) -> None:
    # The account exists in the metadata, so only the store can be what fails.
    accounts = f"{bare_bus.env['XDG_CONFIG_HOME']}/sigilforge"
    subprocess.run(["mkdir", "-p", accounts], check=True)
    with open(f"{accounts}/accounts.json", "w") as fh:
        json.dump(
            {
                "version": 1,
                "accounts": [{"service": "openai", "account": "work", "kind": "api_key"}],
            },
            fh,
        )
    started = time.monotonic()
    proc = run_cli_in(bare_bus.env | IN_PROCESS, "get-token", "openai", "work")
    elapsed = time.monotonic() - started
    assert proc.returncode == 4
    assert "Secret Service" in proc.stderr
    _no_traceback(proc)
    assert elapsed < 2.0


def test_corrupt_accounts_file_is_a_clear_error(run_cli: RunCli, home: Home) -> None:
    run_cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY)
    home.accounts_file.write_text('{"version": 1, "accou')
    proc = run_cli("list-accounts")
    assert proc.returncode == 4
    assert "moved to accounts.json.corrupt-" in proc.stderr
    _no_traceback(proc)
    assert list(home.config_dir.glob("accounts.json.corrupt-*"))


def test_help_needs_no_store(bare_bus: Isolated) -> None:
    proc = run_cli_in(bare_bus.env | IN_PROCESS, "--help")
    assert proc.returncode == 0
    assert "get-token" in proc.stdout
