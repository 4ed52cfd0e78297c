"""Credential references: ``auth://SERVICE/ACCOUNT[/FIELD]``.

Parsing is strict: anything that is not exactly that shape is an ``InvalidReference``,
so a typo never silently resolves to some other secret.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sigilforge.errors import InvalidArgument, InvalidReference
from sigilforge.model import validate_account, validate_service

__all__ = ["SCHEME", "VALS_PREFIXES", "CredentialRef", "Field", "is_auth_reference", "is_reference"]

SCHEME = "auth://"


class Field(enum.StrEnum):
    """What a reference may name. Refresh tokens and client secrets are absent on purpose."""

    TOKEN = "token"  # the access token, or the key of an API-key account
    ACCESS_TOKEN = "access_token"  # OAuth accounts only
    API_KEY = "api_key"  # API-key accounts only
    USERNAME = "username"  # the account's name, which is the user name it signs in as
    EXPIRES_AT = "expires_at"  # Unix seconds, 0 when the secret never expires


# Named explicitly so the error says "never" rather than "unknown".
_NEVER = frozenset({"refresh_token", "client_secret", "code_verifier", "id_token"})


VALS_PREFIXES = ("vals:", "ref+")


def is_auth_reference(text: str) -> bool:
    return text.startswith(SCHEME)


def is_reference(text: str) -> bool:
    """Whether ``text`` is meant as a reference (``auth://``, ``vals:ref+``, ``ref+``)."""
    return text.startswith((SCHEME, *VALS_PREFIXES))


@dataclass(frozen=True, slots=True)
class CredentialRef:
    service: str
    account: str
    field: Field | None = None

    @classmethod
    def parse(cls, text: str) -> CredentialRef:
        if not isinstance(text, str) or not text.startswith(SCHEME):
            raise InvalidReference("a reference starts with auth://")
        parts = text[len(SCHEME) :].split("/")
        if len(parts) not in (2, 3):
            raise InvalidReference("a reference is auth://SERVICE/ACCOUNT[/FIELD]")
        try:
            service = validate_service(parts[0])
            account = validate_account(parts[1])
        except InvalidArgument as exc:
            raise InvalidReference(str(exc)) from None
        field: Field | None = None
        if len(parts) == 3:
            name = parts[2]
            if name in _NEVER:
                raise InvalidReference(f"{name} never resolves")
            try:
                field = Field(name)
            except ValueError:
                known = ", ".join(f.value for f in Field)
                raise InvalidReference(f"unknown field (known: {known})") from None
        return cls(service, account, field)

    def __str__(self) -> str:
        tail = f"/{self.field.value}" if self.field else ""
        return f"{SCHEME}{self.service}/{self.account}{tail}"
