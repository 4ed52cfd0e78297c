"""Endpoint discovery: OpenID Connect Discovery 1.0, falling back to RFC 8414.

A provider configured only by ``issuer`` gets its endpoints here. The metadata's
``issuer`` must equal the configured one (RFC 8414 section 3.3), or an attacker able to
serve a document could point the token endpoint anywhere. Results are kept in memory for
the life of the process.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sigilforge.errors import ProviderError
from sigilforge.oauth.http import Http
from sigilforge.providers import Provider, check_endpoint

__all__ = ["Discovery", "well_known_urls"]


def well_known_urls(issuer: str) -> list[str]:
    """Where the metadata may live, in the order to try."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = urlunsplit(
        (parts.scheme, parts.netloc, f"{path}/.well-known/openid-configuration", "", "")
    )
    # RFC 8414 section 3.1: the well-known segment goes between host and path.
    rfc8414 = urlunsplit(
        (parts.scheme, parts.netloc, f"/.well-known/oauth-authorization-server{path}", "", "")
    )
    return [oidc, rfc8414]


class Discovery:
    def __init__(self, http: Http) -> None:
        self._http = http
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def resolve(self, provider: Provider) -> Provider:
        """``provider`` with every endpoint it did not set filled in from its metadata."""
        if provider.issuer is None or not provider.needs_discovery:
            return provider
        meta = self.metadata(provider.issuer)
        where = f"metadata of {provider.name}"

        def endpoint(key: str) -> str | None:
            value = meta.get(key)
            if value is None:
                return None
            return check_endpoint(value, what=f"{where}: {key}")

        token_url = endpoint("token_endpoint")
        authorize_url = endpoint("authorization_endpoint")
        if token_url is None:
            raise ProviderError(f"{where} names no token endpoint")
        scopes = provider.scopes
        supported = meta.get("scopes_supported")
        if isinstance(supported, list) and "offline_access" in supported:
            # Microsoft-style servers issue a refresh token only for this scope.
            scopes = (*scopes, "offline_access") if "offline_access" not in scopes else scopes
        methods = meta.get("token_endpoint_auth_methods_supported")
        auth_method = provider.token_auth_method
        if isinstance(methods, list) and auth_method not in methods:
            auth_method = next(
                (m for m in ("client_secret_basic", "client_secret_post") if m in methods),
                auth_method,
            )
        return provider.with_(
            authorize_url=provider.authorize_url or authorize_url,
            token_url=token_url,
            device_authorization_url=provider.device_authorization_url
            or endpoint("device_authorization_endpoint"),
            revocation_url=provider.revocation_url or endpoint("revocation_endpoint"),
            introspection_url=provider.introspection_url or endpoint("introspection_endpoint"),
            scopes=scopes,
            token_auth_method=auth_method,
            iss_parameter_supported=meta.get("authorization_response_iss_parameter_supported")
            is True,
        )

    def metadata(self, issuer: str) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(issuer)
        if cached is not None:
            return cached
        last: str = "no metadata document"
        for url in well_known_urls(issuer):
            reply = self._http.get(url, what="discovery")
            if reply.status >= 500:
                raise ProviderError(f"discovery at {urlsplit(url).netloc}: HTTP {reply.status}")
            if reply.status != 200:
                last = f"HTTP {reply.status}"
                continue
            meta = reply.json_object()
            if meta is None:
                last = "not a JSON document"
                continue
            if str(meta.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
                raise ProviderError(
                    f"discovery for {issuer}: the document names another issuer; refusing it"
                )
            with self._lock:
                self._cache[issuer] = meta
            return meta
        raise ProviderError(f"discovery for {issuer} failed ({last})")
