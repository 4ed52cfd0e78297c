"""Both clients read every AddAccount ``Response`` the same way.

Each case goes through a client's own path from the message body it receives: dbus-fast
hands the async client ``Variant`` objects, jeepney hands the blocking client
``(signature, value)`` pairs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dbus_fast import Variant

from sigilforge import errors
from sigilforge.dbus.aio import AsyncRequest
from sigilforge.dbus.blocking import _settle
from sigilforge.dbus.errors import unexpected_message
from sigilforge.dbus.wire import (
    ResponseCode,
    removal_from_wire,
    removal_to_wire,
    response_to_wire,
)
from sigilforge.model import Account, AccountKind, Removal
from sigilforge.pending import Pending

Wire = dict[str, tuple[str, Any]]
Outcome = tuple[str, Any]

_OAUTH = Account("github", "personal", AccountKind.OAUTH2)


def _raw(**values: str) -> Wire:
    return {k: ("s", v) for k, v in values.items()}


def _sent(result: Account | BaseException) -> tuple[int, Wire]:
    code, results = response_to_wire(result)
    return int(code), results


# (what the daemon sent, what a caller of either client must get)
CASES: list[tuple[str, tuple[int, Wire], Outcome]] = [
    ("oauth account", _sent(_OAUTH), ("ok", _OAUTH)),
    (
        "api-key account",
        _sent(Account("openai", "work", AccountKind.API_KEY)),
        ("ok", Account("openai", "work", AccountKind.API_KEY)),
    ),
    (
        "success without a kind is an API key",
        (0, _raw(service="openai", account="work")),
        ("ok", Account("openai", "work", AccountKind.API_KEY)),
    ),
    (
        "success missing the account",
        (0, _raw(service="openai")),
        ("raise", (errors.SigilforgeError, "unreadable answer about the flow")),
    ),
    (
        "success with a kind this client does not know",
        (0, _raw(service="a", account="b", kind="passkey")),
        ("raise", (errors.SigilforgeError, "unreadable answer about the flow")),
    ),
    (
        "cancelled",
        _sent(errors.Cancelled("the user closed the browser")),
        ("raise", (errors.Cancelled, "the user closed the browser")),
    ),
    (
        "code 1 named Failed",
        (1, _raw(error="org.sigilforge.Broker1.Error.Failed", message="stopped")),
        ("raise", (errors.Cancelled, "stopped")),
    ),
    (
        "code 1 named Timeout",
        (1, _raw(error="org.sigilforge.Broker1.Error.Timeout", message="too slow")),
        ("raise", (errors.Cancelled, "too slow")),
    ),
    (
        "code 1 with nothing else",
        (1, {}),
        ("raise", (errors.Cancelled, "cancelled")),
    ),
    (
        "timeout",
        _sent(errors.Timeout("no sign-in within 300s")),
        ("raise", (errors.Timeout, "no sign-in within 300s")),
    ),
    (
        "access denied",
        _sent(errors.AccessDenied("the user refused")),
        ("raise", (errors.AccessDenied, "the user refused")),
    ),
    (
        "invalid argument",
        _sent(errors.InvalidArgument("bad scope")),
        ("raise", (errors.InvalidArgument, "bad scope")),
    ),
    (
        "unexpected failure",
        _sent(RuntimeError("secret=hunter2")),
        ("raise", (errors.SigilforgeError, unexpected_message())),
    ),
    (
        "a code this client does not know",
        (7, _raw(error="org.sigilforge.Broker1.Error.Network", message="offline")),
        ("raise", (errors.NetworkError, "offline")),
    ),
    (
        "a bus-level error name",
        (2, _raw(error="org.example.Odd", message="huh")),
        ("raise", (errors.SigilforgeError, "org.example.Odd: huh")),
    ),
]


def _outcome_of(get: Any) -> Outcome:
    try:
        return ("ok", get())
    except errors.SigilforgeError as exc:
        return ("raise", (type(exc), exc.message))


def _blocking(code: int, results: Wire) -> Outcome:
    pending: Pending[Account] = Pending({})
    _settle(pending, code, results)
    return _outcome_of(lambda: pending.result(0))


def _async(code: int, results: Wire) -> Outcome:
    async def run() -> Outcome:
        request = AsyncRequest(None, "/handle", {})  # type: ignore[arg-type]
        request._settle(code, {k: Variant(sig, v) for k, (sig, v) in results.items()})
        try:
            return ("ok", await request.result(timeout=0))
        except errors.SigilforgeError as exc:
            return ("raise", (type(exc), exc.message))

    return asyncio.run(run())


@pytest.mark.parametrize(("sent", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_both_clients_read_a_response_alike(sent: tuple[int, Wire], expected: Outcome) -> None:
    code, results = sent
    assert _blocking(code, results) == expected
    assert _async(code, results) == expected


def test_every_response_code_is_in_the_table() -> None:
    assert {c[1][0] for c in CASES} >= {int(code) for code in ResponseCode}


@pytest.mark.parametrize(
    "removal",
    [
        Removal(_OAUTH, True, ""),
        Removal(_OAUTH, False, "revocation failed (the provider is down); removed locally"),
        Removal(_OAUTH, None, "the provider has no revocation endpoint"),
        Removal(Account("openai", "work", AccountKind.API_KEY)),
    ],
)
def test_remove_account_results_round_trip_for_both_clients(removal: Removal) -> None:
    wire = removal_to_wire(removal)
    assert wire["revoked"] == ("b", removal.revoked is True)
    assert ("revocation_error" in wire) is (removal.revoked is False)
    # jeepney hands (signature, value) pairs; dbus-fast hands Variants.
    blocking = removal_from_wire({k: v[1] for k, v in wire.items()})
    aio = removal_from_wire({k: Variant(*v).value for k, v in wire.items()})
    assert (
        blocking
        == aio
        == Removal(
            Account(removal.account.service, removal.account.account, removal.account.kind),
            removal.revoked,
            removal.note,
        )
    )
