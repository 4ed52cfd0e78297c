"""The authorization code grant for a native app (RFC 6749 section 4.1 with RFC 7636
PKCE, RFC 8252 loopback redirect, RFC 9207 issuer identification).

``begin`` opens the listener and builds the URL the user must visit; ``finish`` waits for
the one callback, checks it and trades the code for tokens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

from sigilforge.errors import AccessDenied, Cancelled, ProviderError, Timeout
from sigilforge.model import TokenSet
from sigilforge.oauth import id_token, token_endpoint
from sigilforge.oauth.client import Client
from sigilforge.oauth.http import Http
from sigilforge.oauth.loopback import LoopbackListener
from sigilforge.oauth.pkce import Pkce, new_state
from sigilforge.providers import Provider

__all__ = ["CodeFlow"]


@dataclass
class CodeFlow:
    provider: Provider
    client: Client
    scopes: tuple[str, ...]
    listener: LoopbackListener
    pkce: Pkce
    state: str
    authorize_url: str
    # OIDC: sent when ``openid`` is requested, checked in the ID token (oauth.id_token).
    nonce: str | None = None

    @classmethod
    def begin(cls, provider: Provider, client: Client, scopes: tuple[str, ...]) -> CodeFlow:
        if provider.authorize_url is None:
            raise ProviderError(f"{provider.name} has no authorization endpoint")
        pkce = Pkce.new()
        state = new_state()
        nonce = new_state() if "openid" in scopes else None
        listener = LoopbackListener(
            state, expected_iss=provider.issuer, redirect_uri=provider.redirect_uri
        )
        extra = dict(provider.authorize_params)
        if nonce is not None:
            extra["nonce"] = nonce
        url = prepare_grant_uri(
            provider.authorize_url,
            client.client_id,
            "code",
            redirect_uri=listener.redirect_uri,
            scope=" ".join(scopes) if scopes else None,
            state=state,
            code_challenge=pkce.challenge,
            code_challenge_method=pkce.method,
            **extra,
        )
        return cls(provider, client, scopes, listener, pkce, state, str(url), nonce)

    def finish(
        self, http: Http, *, timeout: float, cancelled: threading.Event, now: Callable[[], float]
    ) -> TokenSet:
        try:
            deadline = time.monotonic() + timeout
            callback = None
            while callback is None and not cancelled.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout("nobody completed the sign-in in the browser in time")
                callback = self.listener.wait(min(remaining, 0.5))
        finally:
            self.listener.close()
        if cancelled.is_set() or callback is None:
            raise Cancelled("cancelled")
        if callback.error is not None:
            if callback.error == "access_denied":
                raise AccessDenied("the sign-in was refused in the browser")
            raise ProviderError(
                f"authorization failed: {callback.error[:64]}", error=callback.error[:64]
            )
        self._check_issuer(callback.iss)
        if not callback.code:
            raise ProviderError("the authorization response carried no code")
        assert self.provider.token_url is not None
        tokens = token_endpoint.exchange_code(
            http,
            self.provider.token_url,
            self.client,
            code=callback.code,
            redirect_uri=self.listener.redirect_uri,
            verifier=self.pkce.verifier,
            scopes=self.scopes,
            now=now,
        )
        if self.nonce is not None:
            id_token.check_nonce(tokens.id_token, self.nonce, self.client.client_id)
        return tokens

    def _check_issuer(self, iss: str | None) -> None:
        # RFC 9207: a mismatch means the response came from another server (a mix-up
        # attack); a missing iss is an error only where the server promised to send it.
        expected = self.provider.issuer
        if iss is None:
            if self.provider.iss_parameter_supported:
                raise ProviderError("the authorization response lacks the promised iss")
            return
        if expected is not None and iss.rstrip("/") != expected.rstrip("/"):
            raise ProviderError("the authorization response came from another issuer")
