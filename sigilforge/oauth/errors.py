"""OAuth error answers as classes, one per code Sigilforge acts on, by RFC (authlib's way).

The OAuth layer turns an error answer into the class for its code and decides, once,
whether it is temporary (``transient``); everything above catches classes and reads
``transient``, never an error string. Every class is a ``ProviderError``, so its D-Bus
name and CLI exit status are those of ``ProviderError``; where a code means something
else to the user (a refused sign-in, an expired device code, a revoked grant) the flow
that meets it raises the core error for that (``AccessDenied``, ``Timeout``,
``ReauthRequired``).
"""

from __future__ import annotations

from typing import ClassVar

from sigilforge.errors import ProviderError

__all__ = [
    "AccessDeniedError",
    "AuthorizationPendingError",
    "ExpiredTokenError",
    "InvalidGrantError",
    "OAuth2Error",
    "ServerError",
    "SlowDownError",
    "TemporarilyUnavailableError",
    "oauth_error_class",
]


class OAuth2Error(ProviderError):
    """A well-formed OAuth error answer; ``error`` is its code. A code we do not act on
    is the provider's final word (not transient)."""

    error_code: ClassVar[str | None] = None
    transient_code: ClassVar[bool] = False

    def __init__(self, message: str = "", *, error: str | None = None) -> None:
        super().__init__(
            message, error=error or self.error_code or "unknown", transient=self.transient_code
        )


# -- RFC 6749 section 4.1.2.1 (authorization) and section 5.2 (token endpoint) -----------


class InvalidGrantError(OAuth2Error):
    """The grant (code or refresh token) is invalid, expired or revoked."""

    error_code = "invalid_grant"


class AccessDeniedError(OAuth2Error):
    """The resource owner or the server refused."""

    error_code = "access_denied"


class ServerError(OAuth2Error):
    """The server met an unexpected condition; worth trying again."""

    error_code = "server_error"
    transient_code = True


class TemporarilyUnavailableError(OAuth2Error):
    """The server is overloaded or down for maintenance; worth trying again."""

    error_code = "temporarily_unavailable"
    transient_code = True


# -- RFC 8628 section 3.5 (device authorization grant) -----------------------------------


class AuthorizationPendingError(OAuth2Error):
    """The user has not decided yet; poll again."""

    error_code = "authorization_pending"
    transient_code = True


class SlowDownError(OAuth2Error):
    """Poll again, 5 seconds less often from now on."""

    error_code = "slow_down"
    transient_code = True


class ExpiredTokenError(OAuth2Error):
    """The device code expired before the user decided."""

    error_code = "expired_token"


_BY_CODE: dict[str, type[OAuth2Error]] = {
    cls.error_code: cls
    for cls in (
        InvalidGrantError,
        AccessDeniedError,
        ServerError,
        TemporarilyUnavailableError,
        AuthorizationPendingError,
        SlowDownError,
        ExpiredTokenError,
    )
    if cls.error_code is not None
}


def oauth_error_class(code: str) -> type[OAuth2Error]:
    """The class for an OAuth error code; ``OAuth2Error`` (final) for any other code."""
    return _BY_CODE.get(code, OAuth2Error)
