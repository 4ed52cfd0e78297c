"""What ``list_accounts`` says about each account: the status kept in ``accounts.json``
(``reauth_required``), overlaid with what the secret store says now.

``ok`` is said only when the store answered and holds the account's secret; a locked
store makes it ``locked``, a missing one ``unavailable``, a deleted item
``secret_missing``. The store is asked once for all accounts, by its cheapest check
(``SecretStore.present``: a search, never a secret read where the backend allows), on
every listing.

What is done per account (a key each, a status each) is done again only when the
accounts or the store's answer change: with 1,000 accounts it cost more than the
store's own check, for a listing that is mostly the same as the last one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.model import Account, AccountKind, AccountStatus
from sigilforge.store import SecretKey, SecretKind, SecretStore

__all__ = ["StoreStatus", "secret_key"]

log = logging.getLogger(__name__)

# What the store said: the keys it holds, or the status every checked account gets.
_Answer = frozenset[SecretKey] | AccountStatus


def secret_key(acc: Account) -> SecretKey:
    """The key of the secret an account cannot work without."""
    kind = SecretKind.TOKEN_SET if acc.kind is AccountKind.OAUTH2 else SecretKind.API_KEY
    return SecretKey.for_account(acc.service, acc.account, kind)


class StoreStatus:
    """``overlay`` for one store, remembering its last listing; safe to call from the
    daemon's pool."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        # The last accounts seen, the keys asked for them, the store's answer, the result.
        self._accounts: tuple[Account, ...] = ()
        self._keys: list[SecretKey] = []
        self._answer: _Answer | None = None
        self._listed: list[Account] = []

    def overlay(self, accounts: list[Account]) -> list[Account]:
        """``accounts`` with the status the store gives them now."""
        seen = tuple(accounts)
        with self._lock:
            # The account store hands back the same objects until its file changes, so
            # this compares pointers.
            same_accounts = seen == self._accounts
            keys = self._keys if same_accounts else None
        if keys is None:
            keys = [secret_key(a) for a in accounts if a.status is AccountStatus.OK]
        if not keys:
            return accounts
        answer = _ask(self._store, keys)
        with self._lock:
            if same_accounts and seen == self._accounts and answer == self._answer:
                return list(self._listed)
            listed = _apply(accounts, keys, answer)
            self._accounts, self._keys, self._answer, self._listed = seen, keys, answer, listed
            return list(listed)


def _ask(store: SecretStore, keys: list[SecretKey]) -> _Answer:
    try:
        return store.present(keys)
    except StoreLocked:
        return AccountStatus.LOCKED
    except StoreUnavailable as exc:
        log.info("account status: %s", exc.message)
        return AccountStatus.UNAVAILABLE


def _apply(accounts: list[Account], keys: list[SecretKey], answer: _Answer) -> list[Account]:
    if isinstance(answer, AccountStatus):
        return _mark(accounts, lambda _a: answer)
    # ``keys`` are the checked accounts' keys, in the accounts' order.
    missing = {
        a.key
        for a, key in zip((a for a in accounts if a.status is AccountStatus.OK), keys, strict=True)
        if key not in answer
    }
    return _mark(
        accounts, lambda a: AccountStatus.SECRET_MISSING if a.key in missing else AccountStatus.OK
    )


def _mark(accounts: list[Account], status: Callable[[Account], AccountStatus]) -> list[Account]:
    return [_with_status(a, status(a)) if a.status is AccountStatus.OK else a for a in accounts]


def _with_status(acc: Account, status: AccountStatus) -> Account:
    # The same object when nothing changes: no copy per account per listing, and the
    # D-Bus adapter recognises an unchanged list by identity (``dbus/listing.py``).
    return acc if status is acc.status else acc.with_(status=status)
