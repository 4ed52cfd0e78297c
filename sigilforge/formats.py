"""How ``get-token --format`` prints a token for the tool that reads it.

- ``token``: the token alone (mbsync ``PassCmd``, msmtp ``passwordeval``)
- ``header``: ``Authorization: Bearer TOKEN`` (curl ``-H @-``, HTTP clients)
- ``json``: ``{"token": ..., "expires_at": ...}`` (scripts; 0 when it never expires)
- ``xoauth2``: the base64 SASL XOAUTH2 initial response for ``--user`` (Google's and
  Microsoft's format), for tools that want the whole SASL string
- ``oauthbearer``: the base64 SASL OAUTHBEARER initial response (RFC 7628) for ``--user``
"""

from __future__ import annotations

import base64
import enum
import json

from sigilforge.errors import InvalidArgument
from sigilforge.model import AccessToken

__all__ = ["TokenFormat", "check", "render"]


class TokenFormat(enum.StrEnum):
    TOKEN = "token"
    HEADER = "header"
    JSON = "json"
    XOAUTH2 = "xoauth2"
    OAUTHBEARER = "oauthbearer"


_SASL = (TokenFormat.XOAUTH2, TokenFormat.OAUTHBEARER)


def check(fmt: TokenFormat, user: str | None) -> None:
    """Refuse a combination before any token is fetched."""
    if fmt in _SASL:
        if not user:
            raise InvalidArgument(f"--format {fmt} needs --user ADDRESS")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in user):
            raise InvalidArgument("--user must not contain control characters")
    elif user is not None:
        raise InvalidArgument(f"--user only goes with --format {' or '.join(_SASL)}")


def render(fmt: TokenFormat, token: AccessToken, user: str | None = None) -> str:
    check(fmt, user)
    if fmt is TokenFormat.TOKEN:
        return token.token
    if fmt is TokenFormat.HEADER:
        return f"Authorization: Bearer {token.token}"
    if fmt is TokenFormat.JSON:
        return json.dumps({"token": token.token, "expires_at": token.expires_at or 0})
    assert user is not None
    if fmt is TokenFormat.XOAUTH2:
        raw = f"user={user}\x01auth=Bearer {token.token}\x01\x01"
    else:
        # RFC 7628 section 3.1: a GS2 header whose authzid escapes ',' and '=' (RFC 5801).
        authzid = user.replace("=", "=3D").replace(",", "=2C")
        raw = f"n,a={authzid},\x01auth=Bearer {token.token}\x01\x01"
    return base64.b64encode(raw.encode()).decode("ascii")
