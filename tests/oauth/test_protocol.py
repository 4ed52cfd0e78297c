"""Protocol details on real loopback HTTP: RFC 8414 discovery fallback, issuer checks,
RFC 9207 mix-up defence, cancelling a flow, and answers that must not be taken as tokens."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from sigilforge.broker import Broker
from sigilforge.config import Config
from sigilforge.errors import Cancelled, InvalidArgument, ProviderError
from sigilforge.model import AddOptions, Flow
from sigilforge.oauth import token_endpoint
from sigilforge.oauth.client import Client
from sigilforge.oauth.discovery import Discovery
from sigilforge.oauth.http import Http
from sigilforge.providers import Provider
from sigilforge.testing.authserver import AuthServer, consent
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER
from sigilforge.testing.signin import sign_in, write_provider


def test_rfc8414_discovery_when_there_is_no_oidc_document(
    home: Home, auth_server: AuthServer
) -> None:
    auth_server.oidc_discovery = False
    write_provider(home, auth_server)
    broker = Broker.open()
    acc = sign_in(broker, "alice")
    assert acc.provider == "corp"
    broker.close()


def test_metadata_for_another_issuer_is_refused(auth_server: AuthServer) -> None:
    http = Http(2)
    provider = Provider(name="corp", client_id="c", issuer=f"http://localhost:{auth_server.port}")
    with pytest.raises(ProviderError, match="another issuer"):
        Discovery(http).resolve(provider)
    http.close()


def test_iss_from_another_server_is_refused(home: Home, auth_server: AuthServer) -> None:
    # RFC 9207: a mix-up attack delivers another server's response to our listener.
    write_provider(home, auth_server)
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(open_browser=False))
    answer = httpx2.get(pending.prompt["authorize_url"], follow_redirects=False)
    location = answer.headers["Location"].replace(
        f"iss=http%3A%2F%2F127.0.0.1%3A{auth_server.port}", "iss=https%3A%2F%2Fevil.example"
    )
    assert "evil" in location
    page = httpx2.get(location)
    assert page.status_code == 400
    with pytest.raises(ProviderError, match="another issuer"):
        pending.result(timeout=10)
    assert auth_server.token_requests() == 0
    broker.close()


def test_missing_promised_iss_is_refused(home: Home, auth_server: AuthServer) -> None:
    write_provider(home, auth_server)
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(open_browser=False))
    answer = httpx2.get(pending.prompt["authorize_url"], follow_redirects=False)
    parts = urlsplit(answer.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "iss"}
    httpx2.get(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query)
    with pytest.raises(ProviderError, match="iss"):
        pending.result(timeout=10)
    broker.close()


@pytest.mark.parametrize("flow", [Flow.BROWSER, Flow.DEVICE])
def test_cancel_stops_the_flow(home: Home, corp: AuthServer, flow: Flow) -> None:
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(flow=flow, open_browser=False))
    assert pending.cancel()
    with pytest.raises(Cancelled):
        pending.result(timeout=5)
    if flow is Flow.BROWSER:
        with pytest.raises(httpx2.ConnectError):
            consent(pending.prompt["authorize_url"])
    assert broker.list_accounts() == []
    broker.close()


def test_flow_timeout(home: Home, auth_server: AuthServer) -> None:
    write_provider(home, auth_server, flow_timeout_secs=1.0)
    broker = Broker.open()
    pending = broker.add_account("corp", "alice", AddOptions(open_browser=False))
    with pytest.raises(Exception, match="in time"):
        pending.result(timeout=10)
    broker.close()


class _Fixed(http.server.BaseHTTPRequestHandler):
    status = 200
    ctype = "application/json"
    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Type", self.ctype)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fixed_server() -> Iterator[type[_Fixed]]:
    handler = type("Handler", (_Fixed,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/token"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "ctype", "body", "error"),
    [
        # GitHub answers errors with 200.
        (200, "application/json", b'{"error":"bad_verification_code"}', "bad_verification_code"),
        (200, "text/html", b"<html>captive portal</html>", None),
        (200, "application/json", b'{"token_type":"Bearer"}', None),
        (400, "text/plain", b"bad request", None),
        (400, "application/json", b'{"error":"invalid_client"}', "invalid_client"),
    ],
)
def test_answers_that_are_not_tokens(
    fixed_server: type[_Fixed], status: int, ctype: str, body: bytes, error: str | None
) -> None:
    fixed_server.status, fixed_server.ctype, fixed_server.body = status, ctype, body
    from sigilforge.model import TokenSet

    http = Http(2)
    tokens = TokenSet(access_token=f"{MARKER}-at", refresh_token=f"{MARKER}-rt")
    with pytest.raises(ProviderError) as raised:
        token_endpoint.refresh(http, fixed_server.url, Client("c"), tokens, now=lambda: 0)  # type: ignore[attr-defined]
    assert raised.value.error == error
    assert MARKER not in str(raised.value)
    http.close()


def test_error_description_echoing_a_secret_is_dropped(fixed_server: type[_Fixed]) -> None:
    fixed_server.status = 400
    fixed_server.body = (
        b'{"error":"invalid_request","error_description":"bad token ' + MARKER.encode() + b'-rt"}'
    )
    from sigilforge.model import TokenSet

    http = Http(2)
    tokens = TokenSet(access_token="at", refresh_token=f"{MARKER}-rt")
    with pytest.raises(ProviderError) as raised:
        token_endpoint.refresh(http, fixed_server.url, Client("c"), tokens, now=lambda: 0)  # type: ignore[attr-defined]
    assert MARKER not in str(raised.value)
    http.close()


def test_github_style_comma_scopes(fixed_server: type[_Fixed]) -> None:
    fixed_server.body = b'{"access_token":"x","token_type":"bearer","scope":"repo,read:user"}'
    from sigilforge.model import TokenSet

    http = Http(2)
    fresh = token_endpoint.refresh(
        http,
        fixed_server.url,  # type: ignore[attr-defined]
        Client("c"),
        TokenSet(access_token="a", refresh_token="r"),
        now=lambda: 100,
    )
    assert fresh.scopes == ("repo", "read:user")
    assert fresh.refresh_token is None
    assert fresh.expires_at is None
    http.close()


def test_debug_log_of_a_whole_sign_in_has_no_secret(
    home: Home, corp: AuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = Broker.open()
    sign_in(broker, "alice")
    broker.refresh_token("corp", "alice")
    corp.fail_next("503", count=3)
    with pytest.raises(ProviderError):
        broker.refresh_token("corp", "alice")
    broker.remove_account("corp", "alice")
    assert caplog.records
    assert MARKER not in caplog.text
    broker.close()


def test_no_http_timeout_is_unbounded() -> None:
    assert Config().http_timeout_secs > 0
    assert Http(Config().http_timeout_secs)._client.timeout.read == Config().http_timeout_secs


class _GitHubGrantApi(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str, bytes]]] = []

    def do_DELETE(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, self.headers.get("Authorization", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_github_revocation_deletes_the_grant_with_the_client_secret() -> None:
    import base64
    import json

    from sigilforge.model import TokenSet
    from sigilforge.oauth.revocation import revoke_github_grant

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GitHubGrantApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/applications/{{client_id}}/grant"
    http_client = Http(2)
    try:
        with pytest.raises(ProviderError, match="set-secret github"):
            revoke_github_grant(http_client, url, Client("Iv1.abc"), TokenSet(access_token="t"))
        revoke_github_grant(
            http_client, url, Client("Iv1.abc", "s3cret"), TokenSet(access_token="gho_x")
        )
    finally:
        http_client.close()
        server.shutdown()
        server.server_close()
    method, path, auth, body = _GitHubGrantApi.seen[-1]
    assert (method, path) == ("DELETE", "/applications/Iv1.abc/grant")
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"Iv1.abc:s3cret"
    assert json.loads(body) == {"access_token": "gho_x"}


def test_flow_timeout_is_bounded(broker: Broker) -> None:
    # A caller asked for 136 years: a listener and its threads held that long.
    with pytest.raises(InvalidArgument, match="timeout"):
        broker.add_account("corp", "alice", AddOptions(open_browser=False, timeout=4.29e9))
    assert broker.list_accounts() == []
