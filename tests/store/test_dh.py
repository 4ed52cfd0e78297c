"""The session's key agreement (``store.dh``): libcrypto's exponentiation agrees with
Python's ``pow``, and both ends of an exchange derive the same AES key."""

from __future__ import annotations

import os

import pytest

from sigilforge.store import dh


def test_the_system_libcrypto_is_the_one_used() -> None:
    # Every distribution this runs on has one; ``pow`` is for those that do not.
    assert dh._modexp() is not dh._with_pow


@pytest.mark.parametrize("base", [2, 3, dh._PRIME - 1, 1 << 1000])
def test_libcrypto_and_pow_agree(base: int) -> None:
    exponent = os.urandom(128)
    raised = dh._modexp()(base.to_bytes(128, "big"), exponent)
    assert raised == dh._with_pow(base.to_bytes(128, "big"), exponent)
    assert int.from_bytes(raised, "big") == pow(base, int.from_bytes(exponent, "big"), dh._PRIME)


def test_both_ends_derive_the_same_key() -> None:
    ours, our_public = dh.key_pair()
    theirs, their_public = dh.key_pair()
    assert our_public != their_public
    assert 1 < int.from_bytes(our_public, "big") < dh._PRIME
    key = dh.shared_key(ours, their_public)
    assert len(key) == 16
    assert key == dh.shared_key(theirs, our_public)


def test_a_short_or_oversized_public_key_is_taken_as_pow_would() -> None:
    private, _ = dh.key_pair()
    short = (12345).to_bytes(2, "big")
    assert dh.shared_key(private, short) == dh.shared_key(private, short.rjust(128, b"\0"))
    over = (dh._PRIME + 7).to_bytes(129, "big")
    assert dh.shared_key(private, over) == dh.shared_key(private, (7).to_bytes(128, "big"))
