"""What ``list_accounts`` says about each account: the status kept in ``accounts.json``
(``reauth_required``), overlaid with what the secret store says now.

``ok`` is said only when the store answered and holds the account's secret; a locked
store makes it ``locked``, a missing one ``unavailable``, a deleted item
``secret_missing``. The store is asked once for all accounts, by its cheapest check
(``SecretStore.present``: a search, never a secret read where the backend allows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.model import Account, AccountKind, AccountStatus
from sigilforge.store import SecretKey, SecretKind, SecretStore

__all__ = ["secret_key", "with_store_status"]

log = logging.getLogger(__name__)


def secret_key(acc: Account) -> SecretKey:
    """The key of the secret an account cannot work without."""
    kind = SecretKind.TOKEN_SET if acc.kind is AccountKind.OAUTH2 else SecretKind.API_KEY
    return SecretKey.for_account(acc.service, acc.account, kind)


def with_store_status(accounts: list[Account], store: SecretStore) -> list[Account]:
    checked = [a for a in accounts if a.status is AccountStatus.OK]
    if not checked:
        return accounts
    keys = {a.key: secret_key(a) for a in checked}
    try:
        present = store.present(list(keys.values()))
    except StoreLocked:
        return _mark(accounts, lambda _a: AccountStatus.LOCKED)
    except StoreUnavailable as exc:
        log.info("account status: %s", exc.message)
        return _mark(accounts, lambda _a: AccountStatus.UNAVAILABLE)
    return _mark(
        accounts,
        lambda a: AccountStatus.OK if keys[a.key] in present else AccountStatus.SECRET_MISSING,
    )


def _mark(accounts: list[Account], status: Callable[[Account], AccountStatus]) -> list[Account]:
    return [_with_status(a, status(a)) if a.status is AccountStatus.OK else a for a in accounts]


def _with_status(acc: Account, status: AccountStatus) -> Account:
    # The same object when nothing changes: no copy per account per listing, and the
    # D-Bus adapter recognises an unchanged list by identity (``dbus/listing.py``).
    return acc if status is acc.status else acc.with_(status=status)
