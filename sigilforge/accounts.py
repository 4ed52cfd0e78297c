"""Account metadata in ``accounts.json``: names, kinds, scopes, status. Never a secret.

Writes go to a temp file that is fsynced and renamed over the old one (mode 0600), under
an exclusive lock for the whole read-modify-write, so two processes adding accounts at once
both keep their work and a reader never sees half a file.

What a process last read or wrote is kept, parsed and with each record's text as written:
under the lock, a file whose bytes are still exactly those is not parsed again, and a
write encodes only the records that changed. So a change costs the same at 1,000
accounts as at 10, while any edit by another process (even one leaving size and times
alone) is still seen before we write.

What the file may turn out to be, and what happens then (``StoreCorrupt`` unless said):

- not a regular file (a symlink, a FIFO): refused, never opened in a way that blocks;
- unparseable: moved aside (``accounts.json.corrupt-<time>``) and reported, never silently
  replaced by an empty one; every later reader is told too, for as long as that copy is
  newer than ``accounts.json`` (fix it and move it back, or delete it, to go on);
- written by a newer Sigilforge (``version`` above ours): read, but never written;
- one record we cannot read: skipped with a warning, the others still listed, and the
  record kept as it was on the next write, as are fields we do not know.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigilforge.errors import AccountExists, NoSuchAccount, StoreCorrupt, StoreUnavailable
from sigilforge.fileio import UnsafeFile, read_regular, write_atomic
from sigilforge.filelock import locked
from sigilforge.model import Account

__all__ = ["AccountStore"]

log = logging.getLogger(__name__)

_FORMAT = 1
_ASIDE = ".corrupt-"


@dataclass
class _Contents:
    """The file as read: the accounts, and what must survive a rewrite untouched."""

    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    raw: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    unreadable: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    read_only: str | None = None
    # What makes one change cost the same at 1,000 accounts as at 10: the bytes this was
    # parsed from or written as (a reread finding them unchanged skips the parse), the
    # accounts in key order (the order ``list`` gives and the file keeps, so a listing is
    # a copy) and, once written, each one's record as encoded in the file, in that order,
    # then the unreadable ones; a change edits these lists at one place.
    source: bytes | None = None
    listed: list[Account] = field(default_factory=list)
    records: list[str] | None = None
    unreadable_records: list[str] = field(default_factory=list)


class AccountStore:
    def __init__(self, path: Path, *, lock_timeout: float = 10.0) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._lock_timeout = lock_timeout
        self._cache: tuple[tuple[int, int, int], _Contents] | None = None

    # -- reading ---------------------------------------------------------------------

    def version(self) -> tuple[int, int, int]:
        """Changes whenever the file is replaced, in this process or another one."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> _Contents:
        version = self.version()
        cached = self._cache
        if cached is not None and cached[0] == version and version != (0, 0, 0):
            return cached[1]
        contents = self._read()
        self._cache = (version, contents)
        return contents

    def _read(self, *, holding_lock: bool = False) -> _Contents:
        try:
            raw = read_regular(self.path)
        except UnsafeFile as exc:
            raise StoreCorrupt(f"{exc}: put the file itself at {self.path}") from None
        except OSError as exc:
            raise StoreCorrupt(f"{self.path.name}: {exc.strerror}") from None
        self._check_no_newer_aside()
        if raw is None:
            return _Contents()
        if self._cache is not None and self._cache[1].source == raw:
            # Comparing the bytes, not the file's size and times, is what makes this safe
            # under the lock: an edit within one timestamp tick is still seen.
            return self._cache[1]
        try:
            contents = _parse(raw)
        except ValueError:
            if not holding_lock:
                # Under the lock, so a concurrent writer's fresh file is never what we move.
                with locked(self._lock_path, timeout=self._lock_timeout):
                    return self._read(holding_lock=True)
            aside = self._move_aside()
            raise StoreCorrupt(_corrupt_message(self.path, aside)) from None
        for item in contents.unreadable:
            log.warning("%s: skipping a record it cannot read: %s", self.path.name, _name_of(item))
        contents.source = raw
        return contents

    def _check_no_newer_aside(self) -> None:
        """A copy moved aside is news to every reader until the user has dealt with it."""
        try:
            current = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            current = -1
        newest: tuple[int, Path] | None = None
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.path.parent):
                if entry.name.startswith(self.path.name + _ASIDE):
                    mtime = entry.stat(follow_symlinks=False).st_mtime_ns
                    if mtime > current and (newest is None or mtime > newest[0]):
                        newest = (mtime, Path(entry.path))
        if newest is not None:
            raise StoreCorrupt(_corrupt_message(self.path, newest[1]))

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}{_ASIDE}{stamp}")
        n = 0
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}{_ASIDE}{stamp}~{n}")
        # FileNotFoundError: another process moved it aside first.
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, aside)
            # Its time is the time it was moved: what later readers compare against.
            os.utime(aside)
        return aside

    def list(self) -> list[Account]:
        return list(self._load().listed)

    def get(self, service: str, account: str) -> Account:
        found = self._load().accounts.get((service, account))
        if found is None:
            raise NoSuchAccount(f"no account {service}/{account}")
        return found

    def find(self, service: str, account: str) -> Account | None:
        return self._load().accounts.get((service, account))

    # -- writing ---------------------------------------------------------------------

    def _writable(self) -> _Contents:
        """The file's contents, read under the lock, if this version may rewrite it."""
        version = self.version()
        contents = self._read(holding_lock=True)
        self._cache = (version, contents)
        if contents.read_only is not None:
            raise StoreCorrupt(contents.read_only)
        return contents

    def add(
        self,
        account: Account,
        *,
        replace: Account | None = None,
        before_write: Callable[[], Callable[[], None]] | None = None,
    ) -> Account:
        """Add ``account``; with ``replace``, swap it for that exact record instead (a
        re-authentication), still failing if someone else changed it meanwhile.

        ``before_write`` runs under the lock once the name is known to be free (it saves
        the secret, so only the winner of a same-name race ever writes one) and returns
        the undo that runs if the file cannot be written (all-or-nothing, DESIGN 4)."""
        with locked(self._lock_path, timeout=self._lock_timeout):
            contents = self._writable()
            if contents.accounts.get(account.key) != replace:
                raise AccountExists(f"account {account.service}/{account.account} exists")
            undo = before_write() if before_write is not None else None
            try:
                self._write(contents, account.key, account)
            except BaseException:
                if undo is not None:
                    undo()
                raise
        return account

    def update(self, service: str, account: str, **changes: Any) -> Account:
        return self.modify(service, account, lambda acc: acc.with_(**changes))

    def modify(self, service: str, account: str, change: Callable[[Account], Account]) -> Account:
        with locked(self._lock_path, timeout=self._lock_timeout):
            contents = self._writable()
            current = contents.accounts.get((service, account))
            if current is None:
                raise NoSuchAccount(f"no account {service}/{account}")
            updated = change(current)
            self._write(contents, current.key, updated)
        return updated

    def remove(
        self, service: str, account: str, *, after_write: Callable[[], None] | None = None
    ) -> Account:
        """Remove the record; then, still under the lock, ``after_write`` (which deletes
        the secret). The file is written first, so a file that cannot be written leaves
        the secret untouched; if ``after_write`` fails, the record is put back."""
        with locked(self._lock_path, timeout=self._lock_timeout):
            contents = self._writable()
            removed = contents.accounts.get((service, account))
            if removed is None:
                raise NoSuchAccount(f"no account {service}/{account}")
            self._write(contents, removed.key, None)
            if after_write is not None:
                try:
                    after_write()
                except BaseException:
                    self._write(contents, removed.key, removed)
                    raise
        return removed

    def _write(self, contents: _Contents, key: tuple[str, str], account: Account | None) -> None:
        """Write ``contents`` as read with the record ``key`` set to ``account``, or
        removed (None)."""
        written = _changed(contents, key, account)
        assert written.records is not None
        data = _document(written.extra, written.records + written.unreadable_records)
        try:
            write_atomic(self.path, data)
        except OSError as exc:
            # Read-only, full or forbidden: a store error naming the file and the reason
            # (exit 4), never "unexpected error".
            reason = exc.strerror or type(exc).__name__
            raise StoreUnavailable(f"cannot write {self.path}: {reason}") from None
        # What we just wrote is what the file holds (we hold the lock): the next read
        # (the refresh timer's wake-up, the next add's check) need not parse it again.
        written.source = data
        self._cache = (self.version(), written)


def _key_of(account: Account) -> tuple[str, str]:
    return account.key


def _encoded(contents: _Contents) -> _Contents:
    """``contents`` with every record encoded as the next write will write it: done once
    per file parsed, after which each change encodes its own record only."""
    if contents.records is not None:
        return contents
    raw = {
        # Fields we do not know stay; the ones we know are ours to set.
        acc.key: {**contents.raw[acc.key], **acc.to_dict()}
        for acc in contents.listed
    }
    return _Contents(
        contents.accounts,
        raw,
        contents.unreadable,
        contents.extra,
        contents.read_only,
        listed=contents.listed,
        records=[_encode_record(raw[acc.key]) for acc in contents.listed],
        unreadable_records=[_encode_record(item) for item in contents.unreadable],
    )


def _changed(contents: _Contents, key: tuple[str, str], account: Account | None) -> _Contents:
    """A new ``_Contents``, ``contents`` left as it is (it may be cached), with one
    record set or removed: copies of its lists and dicts, edited at one place."""
    base = _encoded(contents)
    assert base.records is not None
    accounts, raw = dict(base.accounts), dict(base.raw)
    listed, records = list(base.listed), list(base.records)
    at = bisect.bisect_left(listed, key, key=_key_of)
    present = at < len(listed) and listed[at].key == key
    if account is None:
        if present:
            del accounts[key], raw[key], listed[at], records[at]
    else:
        accounts[key] = account
        raw[key] = {**base.raw.get(key, {}), **account.to_dict()}
        record = _encode_record(raw[key])
        if present:
            listed[at], records[at] = account, record
        else:
            listed.insert(at, account)
            records.insert(at, record)
    return _Contents(
        accounts,
        raw,
        base.unreadable,
        base.extra,
        base.read_only,
        listed=listed,
        records=records,
        unreadable_records=base.unreadable_records,
    )


def _parse(raw: bytes) -> _Contents:
    """``ValueError`` if the file as a whole cannot be read; a bad record is kept aside."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise ValueError("no account list")
    version = data.get("version", _FORMAT)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("no version")
    contents = _Contents(extra={k: v for k, v in data.items() if k not in ("version", "accounts")})
    if version > _FORMAT:
        contents.read_only = (
            f"accounts.json is from a newer Sigilforge (format {version}, this one writes "
            f"{_FORMAT}); it is read-only here: upgrade Sigilforge to change accounts"
        )
    for item in data["accounts"]:
        try:
            if not isinstance(item, dict):
                raise StoreCorrupt("not a record")
            acc = Account.from_dict(item)
        except StoreCorrupt:
            contents.unreadable.append(item)
            continue
        if acc.key in contents.accounts:
            contents.unreadable.append(item)
            continue
        contents.accounts[acc.key] = acc
        contents.raw[acc.key] = item
    contents.listed = sorted(contents.accounts.values(), key=_key_of)
    return contents


def _encode_record(record: Any) -> str:
    """One element of the accounts list, as ``json.dumps(document, indent=2)`` writes it."""
    return _RECORD_INDENT + json.dumps(record, indent=2).replace("\n", "\n" + _RECORD_INDENT)


_RECORD_INDENT = " " * 4
_EMPTY_LIST_END = "[]\n}"


def _document(extra: dict[str, Any], records: list[str]) -> bytes:
    """The whole file from records already encoded: the same text as ``json.dumps`` of
    the document with ``indent=2`` (a file people may read and edit), without encoding
    every record again on each write."""
    # "accounts" comes last, so the encoded head ends with its empty list.
    head = json.dumps({**extra, "version": _FORMAT, "accounts": []}, indent=2)
    if records:
        head = head[: -len(_EMPTY_LIST_END)] + "[\n" + ",\n".join(records) + "\n  ]\n}"
    return head.encode() + b"\n"


def _name_of(item: Any) -> str:
    if isinstance(item, dict):
        return f"{item.get('service', '?')!s:.64}/{item.get('account', '?')!s:.128}"
    return "(not a record)"


def _corrupt_message(path: Path, aside: Path) -> str:
    return (
        f"{path.name} was unreadable and has been moved to {aside.name} (the secrets are "
        f"untouched): fix it and move it back to {path.name}, or delete {aside.name} to "
        "start afresh"
    )
