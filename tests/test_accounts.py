"""accounts.json: atomic, private, shared safely between processes, never silently lost."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from sigilforge.accounts import AccountStore
from sigilforge.errors import AccountExists, NoSuchAccount, StoreCorrupt
from sigilforge.model import Account, AccountKind, AccountStatus


def _acc(service: str = "openai", account: str = "work") -> Account:
    return Account(service, account, AccountKind.API_KEY, created_at=1)


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "cfg" / "accounts.json")


def test_add_get_list_remove(store: AccountStore) -> None:
    store.add(_acc("openai", "work"))
    store.add(_acc("github", "me"))
    assert [a.key for a in store.list()] == [("github", "me"), ("openai", "work")]
    assert store.get("openai", "work").kind is AccountKind.API_KEY
    assert store.remove("openai", "work").account == "work"
    with pytest.raises(NoSuchAccount):
        store.get("openai", "work")
    with pytest.raises(NoSuchAccount):
        store.remove("openai", "work")


def test_duplicate_add_is_refused_and_keeps_the_first(store: AccountStore) -> None:
    store.add(_acc())
    with pytest.raises(AccountExists):
        store.add(_acc().with_(scopes=("x",)))
    assert store.get("openai", "work").scopes == ()


def test_update_changes_one_field(store: AccountStore) -> None:
    store.add(_acc())
    store.update("openai", "work", status=AccountStatus.REAUTH_REQUIRED)
    assert AccountStore(store.path).get("openai", "work").status is AccountStatus.REAUTH_REQUIRED


def test_file_is_private_and_no_temp_files_remain(store: AccountStore) -> None:
    store.add(_acc())
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    leftovers = [p.name for p in store.path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_change_in_another_process_is_seen(store: AccountStore) -> None:
    store.list()
    AccountStore(store.path).add(_acc("other", "x"))
    assert [a.key for a in store.list()] == [("other", "x")]


def test_an_edit_that_keeps_size_and_times_is_not_lost_by_the_next_write(
    store: AccountStore,
) -> None:
    """What this process last wrote is kept parsed, but a write checks the file itself:
    an edit in place within one timestamp tick, same length, is still merged."""
    store.add(_acc("openai", "work"))
    before = os.stat(store.path)
    edited = store.path.read_bytes().replace(b'"created_at": 1,', b'"created_at": 7,')
    with store.path.open("r+b") as fh:
        fh.write(edited)
    os.utime(store.path, ns=(before.st_atime_ns, before.st_mtime_ns))

    store.add(_acc("github", "me"))
    assert AccountStore(store.path).get("openai", "work").created_at == 7


def test_the_file_stays_plain_indented_json_through_changes(store: AccountStore) -> None:
    """Records are encoded once and the file assembled from them: it must read exactly
    as ``json.dumps(..., indent=2)`` would write it, unknown fields and all."""
    store.path.parent.mkdir(parents=True)
    unknown = {"service": "x", "account": "y", "kind": "api_key", "note": {"n": [1, 2]}}
    body = {"mine": [1, {}], "version": 1, "accounts": [unknown, "not a record"]}
    store.path.write_text(json.dumps(body))
    store.add(_acc("openai", "work"))
    store.add(_acc("github", "me"))
    store.update("openai", "work", scopes=("a", "b"))
    store.remove("github", "me")

    text = store.path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2) + "\n"
    assert data["mine"] == [1, {}]
    assert [r if isinstance(r, str) else r["account"] for r in data["accounts"]] == [
        "work",
        "y",
        "not a record",
    ]
    assert data["accounts"][0]["scopes"] == ["a", "b"]
    assert data["accounts"][1]["note"] == {"n": [1, 2]}


def _add_many(path: str, prefix: str, n: int) -> None:
    store = AccountStore(Path(path))
    for i in range(n):
        store.add(Account("svc", f"{prefix}{i}", AccountKind.API_KEY))


def test_two_processes_adding_50_each_keep_all_100(store: AccountStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(store.path), prefix, 50)) for prefix in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert len(store.list()) == 100


def test_truncated_file_is_moved_aside_and_reported(store: AccountStore) -> None:
    store.add(_acc("openai", "work"))
    store.add(_acc("github", "me"))
    original = store.path.read_bytes()
    store.path.write_bytes(original[: len(original) // 2])
    truncated = store.path.read_bytes()

    with pytest.raises(StoreCorrupt, match=r"moved to accounts\.json\.corrupt-"):
        AccountStore(store.path).list()

    aside = list(store.path.parent.glob("accounts.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == truncated, "the damaged file is kept as it was"
    assert not store.path.exists(), "nothing was written in its place"
    # Writes wait for the user to deal with the copy (issue 9.3) and never touch it ...
    with pytest.raises(StoreCorrupt, match=aside[0].name):
        store.add(_acc("new", "one"))
    assert aside[0].read_bytes() == truncated
    # ... and once it is gone, start a new file.
    aside[0].unlink()
    store.add(_acc("new", "one"))
    assert [a.key for a in store.list()] == [("new", "one")]


def test_record_with_missing_fields_is_skipped_and_kept(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "accounts": [{"service": "x"}]}))
    assert store.list() == []
    store.add(_acc())
    assert {"service": "x"} in json.loads(store.path.read_text())["accounts"]


def test_no_file_means_no_accounts(store: AccountStore) -> None:
    assert store.list() == []
    assert not store.path.exists()
