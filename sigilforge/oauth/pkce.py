"""Proof Key for Code Exchange (RFC 7636), S256 only, and the one-time ``state``."""

from __future__ import annotations

from dataclasses import dataclass, field

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

__all__ = ["Pkce", "new_state"]

# RFC 7636 section 4.1: 43 to 128 characters; 64 gives 380 bits from the unreserved set.
_VERIFIER_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        verifier = generate_token(_VERIFIER_LENGTH)
        return cls(verifier, create_s256_code_challenge(verifier))


def new_state() -> str:
    return str(generate_token(32))
