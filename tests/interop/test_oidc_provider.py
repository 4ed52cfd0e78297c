"""Interop: Sigilforge against an independent, OpenID Certified server (panva's
node ``oidc-provider``, pinned in package-lock.json), installed from the npm registry
and started on loopback. Nothing here is scripted by us: what passes is what a real
standards-following server does -- discovery, PKCE, RFC 9207 ``iss``, refresh-token
rotation, the device grant, RFC 7009 revocation and RFC 7662 introspection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from sigilforge.broker import Broker
from sigilforge.errors import ReauthRequired
from sigilforge.model import AddOptions, Flow
from sigilforge.testing.cli import RunCli
from sigilforge.testing.home import Home
from sigilforge.testing.oidc_provider import (
    OidcProvider,
    approve_device,
    ensure_installed,
    follow_to_app,
)
from sigilforge.testing.signin import stored_tokens

pytestmark = pytest.mark.interop


# The pinned server sources live here; npm installs them under the repository's build/.
SOURCE = Path(__file__).parent
BUILD = SOURCE.parents[1] / "build" / "interop"


@pytest.fixture(scope="module")
def installed() -> Path:
    reason = ensure_installed(SOURCE, BUILD)
    if reason is not None:
        pytest.skip(f"oidc-provider unavailable: {reason}")
    return BUILD


@pytest.fixture
def op(installed: Path, home: Home) -> Iterator[OidcProvider]:
    with OidcProvider(installed, access_token_ttl=3) as server:
        home.config_dir.mkdir(parents=True, exist_ok=True)
        (home.config_dir / "providers.toml").write_text(
            f'[providers.corp]\nissuer = "{server.issuer}"\nclient_id = "{server.client_id}"\n'
            'scopes = ["openid"]\n'
        )
        (home.config_dir / "config.toml").write_text("http_timeout_secs = 5.0\n")
        yield server


def _userinfo(op: OidcProvider, token: str) -> int:
    answer = httpx2.get(f"{op.issuer}/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


def _refresh_is_refused(op: OidcProvider, refresh_token: str) -> bool:
    answer = httpx2.post(
        f"{op.issuer}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "sigilforge",
        },
    )
    return answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_browser_flow_refresh_rotation_and_revocation(op: OidcProvider, run_cli: RunCli) -> None:
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(open_browser=False))
    # offline_access came from the server's scopes_supported (the Microsoft-style quirk).
    assert "offline_access" in pending.prompt["authorize_url"]
    page = follow_to_app(pending.prompt["authorize_url"])
    assert page.status_code == 200, page.text
    acc = pending.result(timeout=15)
    assert acc.kind.value == "oauth2"
    first = stored_tokens()
    assert first.refresh_token
    assert _userinfo(op, first.access_token) == 200

    time.sleep(max(0.0, (first.expires_at or 0) - time.time()) + 0.3)
    result = run_cli("get-token", "corp", "alice")
    assert result.returncode == 0, result.stderr
    second = result.stdout.strip()
    assert second != first.access_token
    assert _userinfo(op, second) == 200
    rotated = stored_tokens()
    assert rotated.refresh_token != first.refresh_token

    removed = run_cli("remove-account", "corp", "alice")
    assert removed.returncode == 0, removed.stderr
    assert "revoked at the provider" in removed.stderr
    # The refresh token is dead at the server.
    assert _refresh_is_refused(op, rotated.refresh_token or "")
    broker.close()


def test_device_flow(op: OidcProvider, run_cli: RunCli) -> None:
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(flow=Flow.DEVICE))
    assert pending.prompt["user_code"]
    assert pending.prompt["verification_uri"].startswith(op.issuer)
    final = approve_device(pending.prompt["verification_uri_complete"])
    assert "signed in" in final
    pending.result(timeout=30)
    token = run_cli("get-token", "corp", "alice").stdout.strip()
    assert _userinfo(op, token) == 200
    broker.close()


def test_reused_refresh_token_is_reauth(op: OidcProvider) -> None:
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(open_browser=False))
    follow_to_app(pending.prompt["authorize_url"])
    pending.result(timeout=15)
    copy = stored_tokens()
    broker.refresh_token("corp", "alice")
    # The server rotated the token and detects the old one coming back: it ends the grant,
    # and Sigilforge reports that as re-authentication needed, not as a crash.
    assert _refresh_is_refused(op, copy.refresh_token or "")
    with pytest.raises(ReauthRequired):
        broker.refresh_token("corp", "alice")
    broker.close()


def test_exact_redirect_uri_and_nonce_with_a_web_client(installed: Path, home: Home) -> None:
    # A web client: oidc-provider matches its redirect URI exactly, port included (the
    # loopback port leniency of RFC 8252 is for native clients only).
    import socket
    from urllib.parse import parse_qs, urlsplit

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exact = f"http://127.0.0.1:{port}/callback"
    with OidcProvider(installed, exact_redirect_uri=exact) as server:
        # The server really is strict: the same URI on another port is refused.
        other = httpx2.get(
            f"{server.issuer}/auth",
            params={
                "client_id": "sigilforge-web",
                "redirect_uri": f"http://127.0.0.1:{port + 1 if port < 65535 else 1024}/callback",
                "response_type": "code",
                "scope": "openid",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
        )
        assert other.status_code == 400
        home.config_dir.mkdir(parents=True, exist_ok=True)
        (home.config_dir / "providers.toml").write_text(
            f'[providers.corp]\nissuer = "{server.issuer}"\nclient_id = "sigilforge-web"\n'
            f'redirect_uri = "{exact}"\nscopes = ["openid"]\n'
        )
        with Broker.open() as broker:
            pending = broker.add_account("corp", "alice", AddOptions(open_browser=False))
            query = parse_qs(urlsplit(pending.prompt["authorize_url"]).query)
            assert query["redirect_uri"] == [exact]
            assert query["nonce"][0]
            page = follow_to_app(pending.prompt["authorize_url"])
            assert page.status_code == 200, page.text
            account = pending.result(timeout=15)
            assert account.status.value == "ok"
            assert _userinfo(server, broker.get_token("corp", "alice").token) == 200
