"""The contract every secret backend meets."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SCHEMA", "SecretKey", "SecretKind", "SecretStore"]

SCHEMA = "org.sigilforge.Token1"


class SecretKind(enum.StrEnum):
    TOKEN_SET = "oauth2"
    API_KEY = "api_key"
    CLIENT_SECRET = "client_secret"


@dataclass(frozen=True, slots=True)
class SecretKey:
    """Names one secret; becomes the item's attributes, so it is never itself secret."""

    service: str
    account: str
    kind: SecretKind

    @classmethod
    def for_account(cls, service: str, account: str, kind: SecretKind) -> SecretKey:
        """The key of an account's credential (its token set or API key)."""
        if kind is SecretKind.CLIENT_SECRET:
            raise ValueError("a client secret belongs to a provider, not an account")
        return cls(service, account, kind)

    @classmethod
    def client_secret(cls, provider: str) -> SecretKey:
        """The key of a provider's OAuth client secret (no account: one per provider)."""
        return cls(provider, "", SecretKind.CLIENT_SECRET)

    def attributes(self) -> dict[str, str]:
        return {
            "xdg:schema": SCHEMA,
            "service": self.service,
            "account": self.account,
            "kind": self.kind.value,
        }

    def label(self) -> str:
        what = {
            SecretKind.TOKEN_SET: "OAuth token",
            SecretKind.API_KEY: "API key",
            SecretKind.CLIENT_SECRET: "OAuth client secret",
        }[self.kind]
        who = f"{self.service}/{self.account}" if self.account else self.service
        return f"Sigilforge {what} for {who}"


class SecretStore(Protocol):
    """A place for secrets. Every method may raise ``StoreUnavailable`` or ``StoreLocked``.

    ``set`` replaces any existing secret under the same key in one step, so a reader sees
    either the old value or the new one, never neither.
    """

    name: str

    def get(self, key: SecretKey) -> str | None: ...

    def set(self, key: SecretKey, value: str) -> None: ...

    def delete(self, key: SecretKey) -> bool:
        """Remove the secret; False if there was none."""
        ...

    def present(self, keys: Sequence[SecretKey]) -> frozenset[SecretKey]:
        """Which of ``keys`` have a secret, as cheaply as the backend can tell (without
        reading a secret where it can); for account status."""
        ...

    def close(self) -> None: ...
