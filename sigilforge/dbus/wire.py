"""What travels on the bus besides errors, in one place for the service and both clients.

- accounts in ``ListAccounts`` (``aa{sv}``): names, kinds and times only;
- the end of an AddAccount flow, the Request's ``Response(u code, a{sv} results)``;
- what ``RemoveAccount`` did (``a{sv}``: revoked, revocation_error).

Encoders give ``name -> (signature, value)`` pairs that either D-Bus library can wrap in
its own variant type; decoders read the unwrapped values back. This module imports no
D-Bus library, so the blocking client can use it without loading dbus-fast.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from sigilforge.dbus.errors import error_from_reply, reply_for
from sigilforge.dbus.rows import account_row
from sigilforge.errors import Cancelled, SigilforgeError
from sigilforge.model import Account, AccountKind, AccountStatus, Removal

__all__ = [
    "ResponseCode",
    "account_from_wire",
    "account_to_wire",
    "removal_from_wire",
    "removal_to_wire",
    "response_from_wire",
    "response_to_wire",
]

Wire = dict[str, tuple[str, Any]]


class ResponseCode(enum.IntEnum):
    """The ``response`` argument of ``Response`` (the xdg-desktop-portal codes)."""

    SUCCESS = 0
    CANCELLED = 1
    FAILED = 2


def account_to_wire(acc: Account) -> Wire:
    wire: Wire = {
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
    row = account_row(data)
    return Account(
        service=row["service"],
        account=row["account"],
        kind=AccountKind(row["kind"]),
        provider=row["provider"],
        scopes=tuple(row["scopes"]),
        status=AccountStatus(row["status"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


def removal_to_wire(removal: Removal) -> Wire:
    acc = removal.account
    wire: Wire = {
        "service": ("s", acc.service),
        "account": ("s", acc.account),
        "kind": ("s", acc.kind.value),
        "revoked": ("b", removal.revoked is True),
    }
    if removal.revoked is False:
        wire["revocation_error"] = ("s", removal.note)
    elif removal.note:
        wire["note"] = ("s", removal.note)
    return wire


def removal_from_wire(data: Mapping[str, Any]) -> Removal:
    """Raises ``SigilforgeError`` for an answer it cannot read."""
    try:
        acc = Account(str(data["service"]), str(data["account"]), AccountKind(data["kind"]))
    except (KeyError, ValueError):
        raise SigilforgeError("unreadable answer about the removal") from None
    if data.get("revoked"):
        return Removal(acc, True, "")
    if "revocation_error" in data:
        return Removal(acc, False, str(data["revocation_error"]))
    return Removal(acc, None, str(data.get("note", "")))


def response_to_wire(result: Account | BaseException) -> tuple[ResponseCode, Wire]:
    """The ``Response`` for a flow that ended with ``result``. An exception that is not
    a ``SigilforgeError`` crosses as ``Failed`` with the fixed text of ``reply_for``."""
    if isinstance(result, Account):
        return ResponseCode.SUCCESS, {
            "service": ("s", result.service),
            "account": ("s", result.account),
            "kind": ("s", result.kind.value),
        }
    name, message = reply_for(result)
    code = ResponseCode.CANCELLED if isinstance(result, Cancelled) else ResponseCode.FAILED
    return code, {"error": ("s", name), "message": ("s", message)}


def response_from_wire(code: int, results: Mapping[str, Any]) -> Account:
    """The account a ``Response`` reports, or the exception it stands for.

    Code 1 is a cancellation whatever error name came with it (the interface says so);
    any other non-zero code is the named error of the results. Raises ``SigilforgeError``
    for an answer it cannot read.
    """
    if code == ResponseCode.SUCCESS:
        try:
            return Account(
                str(results["service"]),
                str(results["account"]),
                AccountKind(results.get("kind", AccountKind.API_KEY.value)),
            )
        except (KeyError, ValueError):
            raise SigilforgeError("unreadable answer about the flow") from None
    message = str(results.get("message", ""))
    error = error_from_reply(str(results.get("error", "")), message)
    if code == ResponseCode.CANCELLED and not isinstance(error, Cancelled):
        error = Cancelled(message or "cancelled")
    raise error
