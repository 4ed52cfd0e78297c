"""The provider HTTP client: loopback endpoints are never sent through a proxy."""

from __future__ import annotations

import pytest

from sigilforge.oauth.http import Http
from sigilforge.testing.authserver import AuthServer


@pytest.mark.parametrize("var", ["HTTP_PROXY", "ALL_PROXY"])
def test_loopback_provider_bypasses_a_configured_proxy(
    auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    # Port 9 (discard) on loopback refuses connections: were the proxy used, this fails.
    monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    http = Http(5.0)
    try:
        reply = http.get(f"{auth_server.issuer}/.well-known/openid-configuration", what="test")
    finally:
        http.close()
    assert reply.status == 200
    assert (reply.json_object() or {}).get("issuer") == auth_server.issuer
