"""Provider presets and providers.toml: what is accepted, what is refused, and the
quirks each built-in needs in its authorization request."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sigilforge.errors import InvalidArgument, UnknownProvider
from sigilforge.oauth.client import Client
from sigilforge.oauth.code_flow import CodeFlow
from sigilforge.oauth.discovery import well_known_urls
from sigilforge.providers import BUILTIN, ProviderRegistry, check_endpoint, parse_providers


def _registry(tmp_path: Path, text: str) -> ProviderRegistry:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return ProviderRegistry(path)


@pytest.mark.parametrize(
    "url",
    ["https://login.example", "http://127.0.0.1:8080/x", "http://[::1]:9/", "http://localhost/"],
)
def test_https_or_loopback_endpoints_are_accepted(url: str) -> None:
    assert check_endpoint(url, what="x") == url


@pytest.mark.parametrize(
    "url", ["http://login.example", "http://10.0.0.1/", "ftp://x.example/", "/relative", "https://"]
)
def test_other_endpoints_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        check_endpoint(url, what="x")


def test_issuer_only_provider(tmp_path: Path) -> None:
    reg = _registry(
        tmp_path, '[providers.corp]\nissuer = "https://login.corp.example/"\nclient_id = "c"\n'
    )
    corp = reg.get("corp")
    assert corp.issuer == "https://login.corp.example"
    assert corp.needs_discovery
    assert "corp" in reg.names()
    assert set(BUILTIN) <= set(reg.names())


def test_a_client_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    reg = _registry(
        tmp_path,
        '[providers.corp]\nissuer = "https://l.example"\nclient_id = "c"\nclient_secret = "s"\n',
    )
    # The advice, not a generic "unknown keys": the user learns where the secret goes.
    with pytest.raises(InvalidArgument, match="use `sigilforge provider set-secret corp`"):
        reg.get("corp")


def test_builtin_needs_only_a_client_id(tmp_path: Path) -> None:
    with pytest.raises(UnknownProvider, match="client_id"):
        ProviderRegistry(None).get("github")
    github = _registry(tmp_path, '[providers.github]\nclient_id = "Iv1.x"\n').get("github")
    assert github.token_url == "https://github.com/login/oauth/access_token"
    assert github.device_authorization_url is not None
    assert github.revocation_style == "github"


def test_provider_without_endpoints_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="issuer"):
        parse_providers({"providers": {"corp": {"client_id": "c"}}})


def test_unknown_provider_names_the_builtins() -> None:
    with pytest.raises(UnknownProvider, match="github"):
        ProviderRegistry(None).get("nosuch")


def _authorize_query(name: str) -> dict[str, list[str]]:
    provider = BUILTIN[name].with_(client_id="cid")
    flow = CodeFlow.begin(provider, Client("cid"), provider.scopes)
    try:
        return parse_qs(urlsplit(flow.authorize_url).query)
    finally:
        flow.listener.close()


def test_google_asks_for_offline_access_and_consent() -> None:
    query = _authorize_query("google")
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]


def test_redirect_is_127_0_0_1_never_localhost() -> None:
    # Spotify refuses localhost redirects; RFC 8252 recommends the literal address.
    query = _authorize_query("spotify")
    redirect = urlsplit(query["redirect_uri"][0])
    assert redirect.hostname == "127.0.0.1"
    assert redirect.path == "/callback"
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 32


def test_microsoft_style_offline_access_scope() -> None:
    assert "offline_access" in _authorize_query("microsoft")["scope"][0].split()


def test_well_known_urls() -> None:
    assert well_known_urls("https://a.example/tenant/") == [
        "https://a.example/tenant/.well-known/openid-configuration",
        "https://a.example/.well-known/oauth-authorization-server/tenant",
    ]
