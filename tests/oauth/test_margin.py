"""The refresh margin: a fraction of the lifetime, so even a token living seconds is
refreshed once per lifetime and never becomes due the moment it arrives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sigilforge.model import TokenSet
from sigilforge.tokens import due_at, refresh_margin


@given(st.floats(min_value=1.0, max_value=10 * 365 * 86400))
def test_margin_is_a_fraction_of_the_lifetime(lifetime: float) -> None:
    margin = refresh_margin(lifetime)
    assert 0 < margin <= lifetime / 10 + 1e-9
    assert margin <= 300


def test_five_second_token_is_due_half_a_second_early() -> None:
    tokens = TokenSet(access_token="a", expires_at=1005, obtained_at=1000)
    assert due_at(tokens) == 1004.5


def test_hour_long_token_is_due_five_minutes_early() -> None:
    tokens = TokenSet(access_token="a", expires_at=4600, obtained_at=1000)
    assert due_at(tokens) == 4300


def test_token_without_expiry_is_never_due() -> None:
    assert due_at(TokenSet(access_token="a")) is None
