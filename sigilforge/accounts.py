"""Account metadata in ``accounts.json``: names, kinds, scopes, status. Never a secret.

Writes go to a temp file that is fsynced and renamed over the old one (mode 0600), under
an exclusive lock for the whole read-modify-write, so two processes adding accounts at once
both keep their work and a reader never sees half a file. A file that does not parse is
moved aside (``accounts.json.corrupt-<time>``) and reported as ``StoreCorrupt``; it is
never silently replaced by an empty one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sigilforge.errors import AccountExists, NoSuchAccount, StoreCorrupt
from sigilforge.filelock import locked
from sigilforge.model import Account

__all__ = ["AccountStore"]

_FORMAT = 1


class AccountStore:
    def __init__(self, path: Path, *, lock_timeout: float = 10.0) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._lock_timeout = lock_timeout
        self._cache: tuple[tuple[int, int, int], dict[tuple[str, str], Account]] | None = None

    # -- reading ---------------------------------------------------------------------

    def version(self) -> tuple[int, int, int]:
        """Changes whenever the file is replaced, in this process or another one."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> dict[tuple[str, str], Account]:
        version = self.version()
        if self._cache is not None and self._cache[0] == version:
            return self._cache[1]
        accounts = self._read()
        self._cache = (version, accounts)
        return accounts

    def _read(self, *, holding_lock: bool = False) -> dict[tuple[str, str], Account]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
                raise ValueError("no account list")
            records = [Account.from_dict(item) for item in data["accounts"]]
        except (ValueError, StoreCorrupt):
            if not holding_lock:
                # Under the lock, so a concurrent writer's fresh file is never what we move.
                with locked(self._lock_path, timeout=self._lock_timeout):
                    return self._read(holding_lock=True)
            aside = self._move_aside()
            raise StoreCorrupt(
                f"{self.path.name} was unreadable and has been moved to {aside.name}; "
                "the secrets are untouched"
            ) from None
        return {acc.key: acc for acc in records}

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 0
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}~{n}")
        # FileNotFoundError: another process moved it aside first.
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, aside)
        return aside

    def list(self) -> list[Account]:
        return sorted(self._load().values(), key=lambda a: a.key)

    def get(self, service: str, account: str) -> Account:
        found = self._load().get((service, account))
        if found is None:
            raise NoSuchAccount(f"no account {service}/{account}")
        return found

    def find(self, service: str, account: str) -> Account | None:
        return self._load().get((service, account))

    # -- writing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[tuple[str, str], Account]]:
        with locked(self._lock_path, timeout=self._lock_timeout):
            accounts = dict(self._read(holding_lock=True))
            yield accounts
            self._write(accounts)

    def add(self, account: Account, *, replace: Account | None = None) -> Account:
        """Add ``account``; with ``replace``, swap it for that exact record instead (a
        re-authentication), still failing if someone else changed it meanwhile."""
        with self._transaction() as accounts:
            if accounts.get(account.key) != replace:
                raise AccountExists(f"account {account.service}/{account.account} exists")
            accounts[account.key] = account
        return account

    def update(self, service: str, account: str, **changes: Any) -> Account:
        return self.modify(service, account, lambda acc: acc.with_(**changes))

    def modify(self, service: str, account: str, change: Callable[[Account], Account]) -> Account:
        with self._transaction() as accounts:
            current = accounts.get((service, account))
            if current is None:
                raise NoSuchAccount(f"no account {service}/{account}")
            accounts[(service, account)] = updated = change(current)
        return updated

    def remove(self, service: str, account: str) -> Account:
        with self._transaction() as accounts:
            removed = accounts.pop((service, account), None)
            if removed is None:
                raise NoSuchAccount(f"no account {service}/{account}")
        return removed

    def _write(self, accounts: dict[tuple[str, str], Account]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = {
            "version": _FORMAT,
            "accounts": [a.to_dict() for a in sorted(accounts.values(), key=lambda a: a.key)],
        }
        data = json.dumps(body, indent=2).encode() + b"\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            # mkstemp creates 0600 already; fchmod states it rather than trusting the umask.
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._cache = None
