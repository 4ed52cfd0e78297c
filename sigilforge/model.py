"""The nouns: accounts, token sets, access tokens, and the names that identify them."""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sigilforge.errors import InvalidArgument, StoreCorrupt

__all__ = [
    "ACCOUNT_MAX",
    "API_KEY_MAX",
    "SERVICE_MAX",
    "AccessToken",
    "Account",
    "AccountKind",
    "AccountStatus",
    "AddOptions",
    "Flow",
    "Grant",
    "Removal",
    "TokenSet",
    "validate_account",
    "validate_service",
]

# A service is a short lowercase slug (it names a provider or an API); an account may be
# an e-mail address. Neither may contain "/" (the reference separator) or whitespace.
SERVICE_MAX = 64
ACCOUNT_MAX = 128
API_KEY_MAX = 16384
_SERVICE_RE = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{SERVICE_MAX - 1}}}")
_ACCOUNT_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@+-]{{0,{ACCOUNT_MAX - 1}}}")


def validate_service(value: str) -> str:
    if not isinstance(value, str) or not _SERVICE_RE.fullmatch(value):
        raise InvalidArgument(
            f"invalid service name {_shown(value)}: use lowercase letters, digits, '.', '_', '-'"
        )
    return value


def validate_account(value: str) -> str:
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        raise InvalidArgument(
            f"invalid account name {_shown(value)}: use letters, digits, '.', '_', '@', '+', '-'"
        )
    return value


def _shown(value: object) -> str:
    # A rejected name is echoed back so the user sees the typo, but cut short: a caller
    # who pasted a token into the wrong argument must not get it printed back whole.
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "...'"


class AccountKind(enum.StrEnum):
    OAUTH2 = "oauth2"
    API_KEY = "api_key"


class AccountStatus(enum.StrEnum):
    OK = "ok"
    REAUTH_REQUIRED = "reauth_required"
    LOCKED = "locked"
    UNAVAILABLE = "unavailable"
    SECRET_MISSING = "secret_missing"


@dataclass(frozen=True, slots=True)
class Account:
    """What Sigilforge knows about an account, secrets excluded."""

    service: str
    account: str
    kind: AccountKind
    provider: str | None = None
    scopes: tuple[str, ...] = ()
    status: AccountStatus = AccountStatus.OK
    created_at: int = 0
    expires_at: int | None = None

    def __post_init__(self) -> None:
        validate_service(self.service)
        validate_account(self.account)

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.account)

    def with_(self, **changes: Any) -> Account:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "service": self.service,
            "account": self.account,
            "kind": self.kind.value,
            "provider": self.provider,
            "scopes": list(self.scopes),
            "status": self.status.value,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Account:
        try:
            return cls(
                service=data["service"],
                account=data["account"],
                kind=AccountKind(data["kind"]),
                provider=data.get("provider"),
                scopes=tuple(data.get("scopes") or ()),
                status=AccountStatus(data.get("status", "ok")),
                created_at=_opt_int(data.get("created_at")) or 0,
                expires_at=_opt_int(data.get("expires_at")),
            )
        except (KeyError, TypeError, ValueError, InvalidArgument) as exc:
            what = f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else "a field is malformed"
            raise StoreCorrupt(f"malformed account record: {what}") from None


# Every integer that reaches the bus is an int64 (x); a stored value from an older
# version or an odd provider answer is clamped on the way in, never an overflow later.
INT64_MAX = 2**63 - 1


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return INT64_MAX if value > 0 else None
    return max(-INT64_MAX - 1, min(INT64_MAX, int(value)))


@dataclass(frozen=True, slots=True)
class TokenSet:
    """An OAuth2 grant as stored: one Secret Service item, replaced whole on rotation."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: int | None = None
    scopes: tuple[str, ...] = ()
    token_type: str = "Bearer"
    id_token: str | None = field(default=None, repr=False)
    obtained_at: int | None = None

    def access(self) -> AccessToken:
        """What a caller of this grant gets."""
        return AccessToken(self.access_token, self.expires_at)

    def with_refresh_token(self, refresh_token: str | None) -> TokenSet:
        return replace(self, refresh_token=refresh_token)

    def expires_in(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "scopes": list(self.scopes),
                "token_type": self.token_type,
                "id_token": self.id_token,
                "obtained_at": self.obtained_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        try:
            data = json.loads(text)
            token = data["access_token"]
            if not isinstance(token, str) or not token:
                raise ValueError("empty access token")
            return cls(
                access_token=token,
                refresh_token=data.get("refresh_token") or None,
                expires_at=_opt_int(data.get("expires_at")),
                scopes=tuple(data.get("scopes") or ()),
                token_type=data.get("token_type") or "Bearer",
                id_token=data.get("id_token") or None,
                obtained_at=_opt_int(data.get("obtained_at")),
            )
        except (ValueError, KeyError, TypeError):
            raise StoreCorrupt("stored token set is unreadable") from None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What a caller gets: the secret to send, and until when it is good (None: unknown)."""

    token: str = field(repr=False)
    expires_at: int | None = None


class Flow(enum.StrEnum):
    """How ``add_account`` obtains the credential."""

    BROWSER = "browser"  # authorization code + PKCE, loopback redirect
    DEVICE = "device"  # RFC 8628 device grant, for machines without a browser
    PASTE = "paste"  # authorization code, the user pastes the redirect URL back (SSH)
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class AddOptions:
    flow: Flow | None = None  # None: api_key when a key is given, else browser
    scopes: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    open_browser: bool = True
    provider: str | None = None  # defaults to the service name
    timeout: float | None = None  # how long to wait for the user; None: the config's

    def resolved_flow(self) -> Flow:
        if self.flow is not None:
            return self.flow
        return Flow.API_KEY if self.api_key is not None else Flow.BROWSER


@dataclass(frozen=True, slots=True)
class Grant:
    """What a finished OAuth flow hands back."""

    tokens: TokenSet
    provider: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Removal:
    """What ``remove_account`` did. ``revoked``: True done, False failed, None not possible."""

    account: Account
    revoked: bool | None = None
    note: str = ""
