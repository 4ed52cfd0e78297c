"""How accounts travel in ``ListAccounts`` (``aa{sv}``): names, kinds and times only.

``account_to_wire`` gives ``name -> (signature, value)`` pairs that either D-Bus library
can wrap in its own variant type; ``account_from_wire`` reads the unwrapped values back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigilforge.model import Account, AccountKind, AccountStatus

__all__ = ["account_from_wire", "account_to_wire"]


def account_to_wire(acc: Account) -> dict[str, tuple[str, Any]]:
    wire: dict[str, tuple[str, Any]] = {
        "service": ("s", acc.service),
        "account": ("s", acc.account),
        "kind": ("s", acc.kind.value),
        "scopes": ("as", list(acc.scopes)),
        "status": ("s", acc.status.value),
        "created_at": ("x", acc.created_at),
        # D-Bus has no null: 0 means "no expiry known", as in GetToken.
        "expires_at": ("x", acc.expires_at or 0),
    }
    if acc.provider:
        wire["provider"] = ("s", acc.provider)
    return wire


def account_from_wire(data: Mapping[str, Any]) -> Account:
    return Account(
        service=str(data["service"]),
        account=str(data["account"]),
        kind=AccountKind(data["kind"]),
        provider=data.get("provider") or None,
        scopes=tuple(data.get("scopes") or ()),
        status=_status(data.get("status", "ok")),
        created_at=int(data.get("created_at") or 0),
        expires_at=int(data.get("expires_at") or 0) or None,
    )


def _status(value: str) -> AccountStatus:
    # A newer daemon may report a status this client does not know yet.
    try:
        return AccountStatus(value)
    except ValueError:
        return AccountStatus.UNAVAILABLE
