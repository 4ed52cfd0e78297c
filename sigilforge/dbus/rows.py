"""An account from ``ListAccounts`` as plain values, the shape of ``Account.to_dict()``,
without importing the model: ``sigilforge list-accounts`` prints these straight from the
reply (the model's dataclasses cost more to import than the call takes).

``wire.account_from_wire`` builds its ``Account`` from this row, so the full client and
the CLI's fast path read the wire one way.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every run
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["STATUSES", "account_row"]

# The values of ``model.AccountStatus`` (tests/dbus/test_wire.py holds them equal).
STATUSES = ("ok", "reauth_required", "locked", "unavailable", "secret_missing")


def account_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """The row for one unwrapped ``a{sv}`` of ``ListAccounts``."""
    status = str(data.get("status", "ok"))
    return {
        "service": str(data["service"]),
        "account": str(data["account"]),
        "kind": str(data["kind"]),
        "provider": data.get("provider") or None,
        "scopes": [str(s) for s in data.get("scopes") or ()],
        # A newer daemon may report a status this client does not know yet.
        "status": status if status in STATUSES else "unavailable",
        "created_at": int(data.get("created_at") or 0),
        # D-Bus has no null: 0 means "no expiry known", as in GetToken.
        "expires_at": int(data.get("expires_at") or 0) or None,
    }
