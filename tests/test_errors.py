"""The error tree's promises: unique codes, one exit status per kind, no secret in text."""

from __future__ import annotations

import pytest

import sigilforge.errors as errors
from sigilforge.errors import ERRORS, SigilforgeError, error_for_code
from sigilforge.testing.marker import MARKER


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in ERRORS]
    assert len(codes) == len(set(codes))


def test_every_concrete_error_is_listed() -> None:
    concrete = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, SigilforgeError) and "code" in vars(obj)
    }
    assert concrete == set(ERRORS)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.code)
def test_code_round_trips_to_the_same_class(cls: type[SigilforgeError]) -> None:
    assert error_for_code(cls.code) is cls


def test_unknown_code_is_failed() -> None:
    assert error_for_code("SomethingNew") is SigilforgeError


def test_exit_codes_follow_the_design_table() -> None:
    table = {
        "Failed": 1,
        "InvalidArgument": 2,
        "InvalidReference": 2,
        "NoSuchAccount": 3,
        "AccountExists": 3,
        "UnknownProvider": 3,
        "StoreUnavailable": 4,
        "StoreLocked": 4,
        "StoreCorrupt": 4,
        "ReauthRequired": 5,
        "ProviderError": 6,
        "Network": 6,
        "Timeout": 6,
        "Cancelled": 7,
        "AccessDenied": 7,
    }
    assert {cls.code: cls.exit_code for cls in ERRORS} == table


def test_default_message_is_the_class_doc() -> None:
    assert "locked" in errors.StoreLocked().message


def test_unexpected_errors_are_described_without_their_message() -> None:
    try:
        raise ValueError(f"bad token {MARKER}")
    except ValueError as exc:
        text = errors.describe_unexpected(exc)
    assert "ValueError" in text
    assert "test_errors.py" in text, "where it was raised is kept"
    assert MARKER not in text
