"""Hostile and damaged files around the broker: accounts.json that is a FIFO, a symlink,
corrupt, from a newer version or with one bad record; unsafe modes; the crash log.

Each case runs the real ``sigilforge`` command (in-process broker) or the real
``AccountStore`` on real files, and asserts what a user would see.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sigilforge.accounts import AccountStore
from sigilforge.errors import StoreCorrupt
from sigilforge.model import Account, AccountKind
from sigilforge.testing.cli import RunCli
from sigilforge.testing.home import Home

pytestmark = pytest.mark.hostile


def _acc(service: str = "openai", account: str = "work") -> Account:
    return Account(service, account, AccountKind.API_KEY, created_at=1)


def _record(service: str, account: str, **extra: object) -> dict[str, object]:
    return {"service": service, "account": account, "kind": "api_key", **extra}


def _write_json(path: Path, body: object) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(json.dumps(body))


# -- item 9: a FIFO --------------------------------------------------------------------


def test_fifo_in_place_of_accounts_json_is_a_named_error_not_a_hang(
    home: Home, run_cli: RunCli
) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    os.mkfifo(home.accounts_file, 0o600)
    done = run_cli("--no-daemon", "list-accounts", timeout=30)
    assert done.returncode == 4, done.stderr
    assert "accounts.json" in done.stderr
    assert "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
    # Nothing replaced it behind the user's back.
    assert stat.S_ISFIFO(os.lstat(home.accounts_file).st_mode)


# -- item 15: symlink, unknown fields, newer version, one bad record ------------------


def test_symlinked_accounts_json_is_refused_and_its_target_untouched(
    home: Home, run_cli: RunCli, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.json"
    _write_json(target, {"version": 1, "accounts": [_record("openai", "work")]})
    before = target.read_bytes()
    home.config_dir.mkdir(parents=True, exist_ok=True)
    home.accounts_file.symlink_to(target)
    listed = run_cli("--no-daemon", "list-accounts")
    assert listed.returncode == 4, listed.stderr
    assert "symlink" in listed.stderr
    added = run_cli("--no-daemon", "add-account", "x", "y", "--api-key-stdin", stdin="k\n")
    assert added.returncode == 4, added.stderr
    assert home.accounts_file.is_symlink()
    assert target.read_bytes() == before


def test_unknown_fields_are_kept_when_the_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    _write_json(
        path,
        {
            "version": 1,
            "written_by": "a later sigilforge",
            "accounts": [_record("openai", "work", colour="blue")],
        },
    )
    AccountStore(path).add(_acc("github", "me"))
    data = json.loads(path.read_text())
    assert data["written_by"] == "a later sigilforge"
    (work,) = [r for r in data["accounts"] if r["service"] == "openai"]
    assert work["colour"] == "blue"
    assert {(r["service"], r["account"]) for r in data["accounts"]} == {
        ("openai", "work"),
        ("github", "me"),
    }


def test_a_newer_version_is_read_but_never_written(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    _write_json(path, {"version": 99, "accounts": [_record("openai", "work")]})
    before = path.read_bytes()
    store = AccountStore(path)
    assert [a.key for a in store.list()] == [("openai", "work")]
    with pytest.raises(StoreCorrupt, match="newer"):
        store.add(_acc("github", "me"))
    assert path.read_bytes() == before


def test_one_bad_record_does_not_hide_the_others_and_survives_a_write(
    home: Home, run_cli: RunCli
) -> None:
    bad = _record("spotify", "me", status="from-the-future")
    _write_json(home.accounts_file, {"version": 1, "accounts": [bad, _record("openai", "work")]})
    listed = run_cli("--no-daemon", "list-accounts", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(a["service"], a["account"]) for a in json.loads(listed.stdout)] == [("openai", "work")]
    assert "spotify" in listed.stderr  # the user hears which record was skipped
    AccountStore(home.accounts_file).add(_acc("github", "me"))
    records = json.loads(home.accounts_file.read_text())["accounts"]
    assert bad in records


# -- item 3: a corrupt file moved aside by whoever read first --------------------------


def test_corrupt_accounts_json_is_reported_to_whoever_reads_after_it_was_moved(
    home: Home, run_cli: RunCli
) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    home.accounts_file.write_text('{"version": 1, "accounts": [],}')
    # The daemon's background refresh reads first and moves the file aside ...
    with pytest.raises(StoreCorrupt):
        AccountStore(home.accounts_file).list()
    (aside,) = home.config_dir.glob("accounts.json.corrupt-*")
    # ... and the user's first command still hears about it, not "no accounts".
    for _ in range(2):
        done = run_cli("--no-daemon", "list-accounts")
        assert done.returncode == 4, done.stderr
        assert aside.name in done.stderr
    added = run_cli("--no-daemon", "add-account", "x", "y", "--api-key-stdin", stdin="k\n")
    assert added.returncode == 4, added.stderr
    # Recovery as the docs say: fix the file and move it back (or delete the copy).
    aside.write_text('{"version": 1, "accounts": []}')
    aside.rename(home.accounts_file)
    done = run_cli("--no-daemon", "list-accounts")
    assert done.returncode == 0, done.stderr


# -- item 16: modes and the crash log -------------------------------------------------


def test_world_writable_config_dir_is_repaired_with_a_warning(home: Home, run_cli: RunCli) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(home.config_dir, 0o777)
    done = run_cli("--no-daemon", "list-accounts")
    assert done.returncode == 0, done.stderr
    assert "writable by others" in done.stderr
    assert stat.S_IMODE(home.config_dir.stat().st_mode) & 0o022 == 0


def test_crash_log_never_follows_a_symlink(home: Home, tmp_path: Path) -> None:
    from sigilforge import paths
    from sigilforge.cli.app import _log_unexpected

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    log = paths.log_file()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.symlink_to(victim)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        _log_unexpected(exc)
    assert victim.read_text() == "precious\n"


def test_service_install_under_umask_000_writes_explicit_modes(home: Home) -> None:
    done = subprocess.run(
        ["sh", "-c", 'umask 000; exec "$0" -m sigilforge service install --user', sys.executable],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = Path(home.env["XDG_DATA_HOME"])
    config = Path(home.env["XDG_CONFIG_HOME"])
    written = [
        data / "dbus-1" / "services" / "org.sigilforge.Broker1.service",
        config / "systemd" / "user" / "sigilforge.service",
    ]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
        for parent in (path.parent, path.parent.parent):
            assert stat.S_IMODE(parent.stat().st_mode) & 0o022 == 0, parent


def test_fifo_config_is_refused_but_a_symlinked_config_is_read(
    home: Home, run_cli: RunCli, tmp_path: Path
) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    config = home.config_dir / "config.toml"
    os.mkfifo(config, 0o600)
    done = run_cli("--no-daemon", "list-accounts", timeout=30)
    assert done.returncode == 2, done.stderr
    assert "config.toml is a FIFO" in done.stderr
    config.unlink()
    dotfiles = tmp_path / "dotfiles-config.toml"
    dotfiles.write_text("store = 7\n")  # wrong on purpose: proves the link is read
    config.symlink_to(dotfiles)
    done = run_cli("--no-daemon", "list-accounts")
    assert done.returncode == 2, done.stderr
    assert "store has the wrong type" in done.stderr
