"""Add and remove are all-or-nothing across the keyring and accounts.json.

Same-name adds racing (in-process and through the daemon) leave exactly the winner's
secret; a config dir that cannot be written (read-only, or a full disk) makes add and
remove fail with ``StoreUnavailable`` (exit 4) naming the file and the reason, and leaves
the keyring and accounts.json as they were."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge import paths
from sigilforge.config import Config
from sigilforge.store import SecretKey, SecretKind, open_store
from sigilforge.testing.broker_rig import BrokerRig, cli_command
from sigilforge.testing.cli import RunCli
from sigilforge.testing.confine import available, confined
from sigilforge.testing.home import Home
from sigilforge.testing.hostile_report import Recorder, count

REASONS = {"read-only": "Read-only file system", "full": "No space left on device"}


def stored_key(service: str, account: str) -> str | None:
    store = open_store(Config.load(paths.config_file()).store)
    try:
        return store.get(SecretKey.for_account(service, account, SecretKind.API_KEY))
    finally:
        store.close()


def race(env: dict[str, str], *, daemon: bool, racers: int = 3) -> tuple[int, str | None]:
    """``racers`` adds of svc/same at once with different keys; (winners, winner's key)."""
    argv = [*cli_command(), *([] if daemon else ["--no-daemon"])]
    argv += ["add-account", "svc", "same", "--api-key-stdin"]
    procs = [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(racers)
    ]
    winners = []
    for n, proc in enumerate(procs):
        assert proc.stdin is not None
        proc.stdin.write(f"key-{n}\n")
        proc.stdin.close()
    for n, proc in enumerate(procs):
        proc.wait(60)
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert proc.returncode in (0, 3), err
        if proc.returncode == 0:
            winners.append(f"key-{n}")
    return len(winners), winners[0] if winners else None


def test_same_name_adds_in_process_keep_the_winners_secret(
    home: Home, run_cli: RunCli, hostile_record: Recorder
) -> None:
    rounds = count(5, 25)
    passed = 0
    for _ in range(rounds):
        winners, key = race(home.env, daemon=False)
        assert winners == 1
        assert stored_key("svc", "same") == key
        passed += 1
        assert run_cli("--no-daemon", "remove-account", "svc", "same").returncode == 0
    hostile_record("add/remove", "same-name adds, in-process", rounds, passed)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[BrokerRig]:
    with BrokerRig(tmp_path / "rig") as mine:
        yield mine


def test_same_name_adds_over_the_bus_keep_the_winners_secret(
    rig: BrokerRig, hostile_record: Recorder
) -> None:
    rounds = count(5, 25)
    passed = 0
    for _ in range(rounds):
        winners, key = race(rig.env, daemon=True)
        assert winners == 1
        got = rig.cli("get-token", "svc", "same")
        assert got.returncode == 0, got.stderr
        assert got.stdout.strip() == key
        passed += 1
        assert rig.cli("remove-account", "svc", "same").returncode == 0
    hostile_record("add/remove", "same-name adds, over the bus", rounds, passed)


@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_an_unwritable_config_dir_changes_nothing(
    kind: str, home: Home, run_cli: RunCli, hostile_record: Recorder
) -> None:
    if not available(kind):
        pytest.skip(f"a {kind} config dir cannot be made without root here")
    assert run_cli("--no-daemon", "add-account", "svc", "kept", "--api-key-stdin", stdin="k1\n")
    before = home.accounts_file.read_bytes()

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = confined([*cli_command(), "--no-daemon", *args], home.config_dir, kind)
        return subprocess.run(
            argv, env=home.env, input=stdin, capture_output=True, text=True, timeout=60
        )

    added = cli("add-account", "svc", "orphan", "--api-key-stdin", stdin="k2\n")
    assert added.returncode == 4, added.stderr
    assert "accounts.json" in added.stderr
    assert REASONS[kind] in added.stderr
    assert stored_key("svc", "orphan") is None, "a failed add left its secret behind"

    removed = cli("remove-account", "svc", "kept")
    assert removed.returncode == 4, removed.stderr
    assert "accounts.json" in removed.stderr
    assert REASONS[kind] in removed.stderr
    assert stored_key("svc", "kept") == "k1", "a failed remove deleted the secret"
    assert home.accounts_file.read_bytes() == before
    got = run_cli("--no-daemon", "get-token", "svc", "kept")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "k1"
    hostile_record("add/remove", f"{kind} config dir: add and remove", 2, 2, "exit 4, file named")
