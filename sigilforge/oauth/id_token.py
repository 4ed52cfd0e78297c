"""The OpenID Connect ID token's ``nonce`` (OIDC Core 3.1.2.1 and 3.1.3.7).

When ``openid`` is requested the authorization request carries a fresh ``nonce``, and
the ID token that comes back must carry the same one: otherwise it was minted for
another request (a replayed or injected response). The token comes straight from the
token endpoint over TLS (or loopback), which OIDC Core 3.1.3.7 item 6 accepts in place
of checking its signature; its claims are read, never trusted for anything but this.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from sigilforge.errors import ProviderError

__all__ = ["check_nonce", "claims"]


def claims(id_token: str) -> dict[str, Any]:
    """The payload of a compact JWS, or ``ProviderError`` if it is not one."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise ProviderError("the ID token is not a JWT", transient=False)
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise ProviderError("the ID token's claims are unreadable", transient=False) from None
    if not isinstance(data, dict):
        raise ProviderError("the ID token's claims are unreadable", transient=False)
    return data


def check_nonce(id_token: str | None, nonce: str, client_id: str) -> None:
    """``ProviderError`` unless ``id_token`` is for this client and carries ``nonce``.

    No ID token at all is accepted: a server may ignore ``openid``, and then there is no
    token that could have been replayed."""
    if id_token is None:
        return
    data = claims(id_token)
    got = data.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise ProviderError(
            "the ID token does not carry this sign-in's nonce (a replayed or foreign "
            "answer); sign in again",
            transient=False,
        )
    aud = data.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise ProviderError("the ID token was issued to another client", transient=False)
