"""The OAuth client's identity (RFC 6749 section 2.3): a client id, and for confidential
clients a secret sent by HTTP Basic or in the form, as the provider prefers."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["Client"]


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str | None = field(default=None, repr=False)
    auth_method: str = "client_secret_basic"

    def form_and_auth(self, form: dict[str, str]) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The form with the credentials a token, device or revocation request needs."""
        form = dict(form)
        if self.secret is None:
            form["client_id"] = self.client_id
            return form, None
        if self.auth_method == "client_secret_post":
            form["client_id"] = self.client_id
            form["client_secret"] = self.secret
            return form, None
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
        return form, (quote(self.client_id, safe=""), quote(self.secret, safe=""))

    def secrets(self) -> tuple[str, ...]:
        return (self.secret,) if self.secret else ()
