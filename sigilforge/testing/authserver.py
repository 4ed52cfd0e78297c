"""A scriptable OAuth 2.0 authorization server on loopback, and a headless "user".

Real HTTP on ``127.0.0.1`` (a random port), enough of the RFCs to be honest about what
a client does: authorization code with PKCE S256 (RFC 7636) and ``iss`` (RFC 9207),
refresh with rotation and reuse detection (OAuth 2.0 Security BCP: a rotated-out
refresh token presented again revokes the whole grant), the device grant (RFC 8628,
with ``slow_down`` when polled too fast), revocation (RFC 7009), introspection (RFC
7662), and metadata at both well-known places (OIDC Discovery, RFC 8414).

Scripting, for the failure tests::

    server.fail_next("503", count=3)           # token endpoint answers 503 three times
    server.fail_next("hang", delay=3)          # waits, then 503: a client times out
    server.fail_next("late", delay=3)          # does the work, answers only after a wait
    server.fail_next("trickle", delay=1)       # 200, its body one byte every delay seconds
    server.fail_next("invalid_grant")          # refuses the next grant
    server.fail_next("html") / ("junk")        # 200 with a captive portal page / junk
    server.slow_down_next(2)                   # device polling: two slow_down answers

Strictness some enterprise servers have (RFC 8252 section 7.3 says a server must not match
a loopback port, but several do)::

    AuthServer(redirect_uri="http://127.0.0.1:8765/callback")   # only that exact URI
    AuthServer(require_nonce=True)             # ``openid`` without ``nonce`` is refused

With ``openid`` in the scope, the token answer carries an ID token (HS256) with the
request's ``nonce``; ``id_token_nonce`` overrides it (a replayed token, for the tests).

Counters: ``token_requests(grant_type)``; ``refresh_tokens_seen`` lists every refresh
token presented, in order. ``introspect(token)`` tells whether a token is active.

Every grant belongs to an account (``username``/``email``, the server's defaults or
``issue_grant(username=..., email=...)``); ``POST /introspect`` names it for an active
token, so a resource server (dovecot's oauth2 passdb, the git rig) can check who it is.

Usable outside pytest (the demo): ``run_for_demo(config_dir)`` starts one and names it
in ``providers.toml``; ``consent(url)`` is the user;
``python -m sigilforge.testing.authserver [--provider-name local]`` runs one until
interrupted and prints the ``providers.toml`` entry to use (``make try-oauth``; it never
writes your ``providers.toml``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2

__all__ = ["AuthServer", "consent", "enter_user_code", "run_for_demo"]


# The form field that names what a grant type redeems.
_GRANT_FIELDS = {
    "authorization_code": "code",
    "refresh_token": "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code": "device_code",
}


@dataclass
class _Grant:
    """One user authorization: every token issued from it shares its fate."""

    scope: str
    active: bool = True
    username: str = "alice"
    email: str = "alice@example.test"


@dataclass
class _Token:
    grant: _Grant
    kind: str  # "access" or "refresh"
    expires_at: float | None = None
    used: bool = False  # a refresh token rotated out
    revoked: bool = False

    def active(self, now: float) -> bool:
        if self.revoked or self.used or not self.grant.active:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: float
    used: bool = False
    nonce: str | None = None


@dataclass
class _Device:
    user_code: str
    scope: str
    expires_at: float
    interval: float
    status: str = "pending"  # pending, approved, denied, done
    last_poll: float = 0.0


@dataclass
class _Failure:
    kind: str
    delay: float = 0.0


@dataclass
class AuthServer:
    """``with AuthServer(token_lifetime=5) as srv:`` -> ``srv.issuer`` etc."""

    client_id: str = "sigilforge-test"
    client_secret: str | None = None
    token_lifetime: float = 3600.0
    rotate: bool = True
    reuse_detection: bool = True
    iss_param: bool = True
    oidc_discovery: bool = True
    rfc8414_discovery: bool = True
    device_interval: float = 1.0
    device_lifetime: float = 120.0
    token_prefix: str = "tok"
    # "approve" or "deny": what the headless user answers at /authorize.
    consent_answer: str = "approve"
    scopes_supported: tuple[str, ...] = ("openid", "profile", "email")
    # The account every grant made through the protocol belongs to.
    username: str = "alice"
    email: str = "alice@example.test"
    refresh_tokens_seen: list[str] = field(default_factory=list)
    # Exact redirect URI matching (None: any http://127.0.0.1:*/callback, per RFC 8252).
    redirect_uri: str | None = None
    require_nonce: bool = False
    # Put this nonce in ID tokens instead of the request's (None: the request's).
    id_token_nonce: str | None = None
    # Where the server listens (0: a port the kernel picks).
    listen_port: int = 0
    # What a refresh answer says as ``expires_in`` instead of the lifetime (an odd value:
    # 1e20, float("inf"), -5, "abc", float("nan"); JSON as Python writes it).
    refresh_expires_in: Any = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, _Token] = {}
        self._devices: dict[str, _Device] = {}
        self._failures: list[_Failure] = []
        self._stopping = threading.Event()
        self._slow_downs = 0
        self._counts: Counter[str] = Counter()
        # In every code and token: ports are reused, and a process left from an earlier
        # test may still send this port the tokens another server gave it.
        self._tag = secrets.token_hex(4)
        self.strays = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def provider_entry(self, name: str = "corp") -> str:
        """This server as provider ``name`` in ``providers.toml``: by issuer only, the
        rest discovered, as a user would configure a provider Sigilforge has no preset for."""
        entry = f'[providers.{name}]\nissuer = "{self.issuer}"\nclient_id = "{self.client_id}"\n'
        if self.redirect_uri is not None:
            entry += f'redirect_uri = "{self.redirect_uri}"\n'
        return entry

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> AuthServer:
        self._server = _Server(("127.0.0.1", self.listen_port), _Handler)
        self._server.auth = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> AuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "device_authorization_endpoint": f"{base}/device_authorization",
            "revocation_endpoint": f"{base}/revoke",
            "introspection_endpoint": f"{base}/introspect",
            "userinfo_endpoint": f"{base}/userinfo",
            "response_types_supported": ["code"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": (
                ["client_secret_basic", "client_secret_post"] if self.client_secret else ["none"]
            ),
            "scopes_supported": list(self.scopes_supported),
            "authorization_response_iss_parameter_supported": self.iss_param,
        }

    # -- scripting and inspection ---------------------------------------------------------

    def fail_next(self, kind: str, *, count: int = 1, delay: float = 0.0) -> None:
        assert kind in ("503", "429", "hang", "late", "trickle", "invalid_grant", "html", "junk"), (
            kind
        )
        with self._lock:
            self._failures.extend(_Failure(kind, delay) for _ in range(count))

    def slow_down_next(self, count: int) -> None:
        with self._lock:
            self._slow_downs += count

    def token_requests(self, grant_type: str | None = None) -> int:
        with self._lock:
            if grant_type is None:
                return sum(self._counts.values())
            return self._counts[grant_type]

    def introspect(self, token: str) -> bool:
        with self._lock:
            found = self._tokens.get(token)
            return found is not None and found.active(time.time())

    def approve(self, user_code: str, *, allow: bool = True) -> bool:
        """The user types ``user_code`` at the verification page and consents (or not)."""
        with self._lock:
            for dev in self._devices.values():
                if dev.user_code == user_code and dev.status == "pending":
                    dev.status = "approved" if allow else "denied"
                    return True
        return False

    def issue_grant(
        self, scope: str = "openid", *, username: str | None = None, email: str | None = None
    ) -> dict[str, Any]:
        """Tokens for a grant made out of band (tests that need an account quickly)."""
        grant = _Grant(scope, username=username or self.username, email=email or self.email)
        with self._lock:
            return self._issue(grant, with_refresh=True)

    def _grant(self, scope: str) -> _Grant:
        return _Grant(scope, username=self.username, email=self.email)

    # -- the protocol ---------------------------------------------------------------------

    def _new(self, kind: str) -> str:
        return f"{self.token_prefix}-{self._tag}-{kind}-{secrets.token_urlsafe(12)}"

    def _stray(self, form: dict[str, str]) -> bool:
        """A grant this server never issued: a process of another test (or test run)
        still refreshing against a port that is now ours. Answered, never counted."""
        field = _GRANT_FIELDS.get(form.get("grant_type", ""))
        value = form.get(field, "") if field else ""
        return bool(value) and f"-{self._tag}-" not in value

    def _id_token(self, grant: _Grant, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.username,
            "aud": self.client_id,
            "iat": now,
            "exp": now + int(self.token_lifetime),
            "email": grant.email,
        }
        nonce = self.id_token_nonce if self.id_token_nonce is not None else nonce
        if nonce is not None:
            claims["nonce"] = nonce

        def part(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
        key = (self.client_secret or self.client_id).encode()
        mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def _issue(
        self, grant: _Grant, *, with_refresh: bool, nonce: str | None = None
    ) -> dict[str, Any]:
        now = time.time()
        access = self._new("at")
        self._tokens[access] = _Token(grant, "access", expires_at=now + self.token_lifetime)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.token_lifetime),
            "scope": grant.scope,
        }
        if with_refresh:
            refresh = self._new("rt")
            self._tokens[refresh] = _Token(grant, "refresh")
            body["refresh_token"] = refresh
        if "openid" in grant.scope.split() and nonce is not None:
            body["id_token"] = self._id_token(grant, nonce)
        return body

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        redirect = query.get("redirect_uri", "")
        parts = urlsplit(redirect)
        if (
            query.get("client_id") != self.client_id
            or parts.scheme != "http"
            or parts.hostname != "127.0.0.1"
            or parts.path != "/callback"
        ) and self.redirect_uri is None:
            return 400, {}, "bad client or redirect_uri"
        if self.redirect_uri is not None and (
            query.get("client_id") != self.client_id or redirect != self.redirect_uri
        ):
            return 400, {}, "bad client or redirect_uri (this server matches it exactly)"
        openid = "openid" in query.get("scope", "").split()
        if self.require_nonce and openid and not query.get("nonce"):
            return 400, {}, "nonce is required when openid is requested"
        if query.get("response_type") != "code":
            return 400, {}, "unsupported response_type"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, "PKCE S256 is required"
        back: dict[str, str] = {"state": query.get("state", "")}
        if self.consent_answer == "deny":
            back["error"] = "access_denied"
        else:
            code = self._new("code")
            with self._lock:
                self._codes[code] = _Code(
                    self.client_id,
                    redirect,
                    query["code_challenge"],
                    query.get("scope", ""),
                    time.time() + 60,
                    nonce=query.get("nonce") if openid else None,
                )
            back["code"] = code
        if self.iss_param:
            back["iss"] = self.issuer
        return 302, {"Location": f"{redirect}?{urlencode(back)}"}, ""

    def _client_ok(self, form: dict[str, str], basic: tuple[str, str] | None) -> bool:
        if basic is not None:
            return basic == (self.client_id, self.client_secret)
        if form.get("client_id") != self.client_id:
            return False
        return self.client_secret is None or form.get("client_secret") == self.client_secret

    def _token(
        self, form: dict[str, str], basic: tuple[str, str] | None, *, counted: bool = False
    ) -> tuple[int, Any] | tuple[int, Any, dict[str, str]]:
        grant_type = form.get("grant_type", "")
        failure = None
        if not counted and self._stray(form):
            with self._lock:
                self.strays += 1
            return 400, {"error": "invalid_grant"}
        if not counted:
            with self._lock:
                self._counts[grant_type] += 1
                failure = self._failures.pop(0) if self._failures else None
                if grant_type == "refresh_token":
                    self.refresh_tokens_seen.append(form.get("refresh_token", ""))
        if failure is not None and failure.kind == "late":
            answer = self._token(form, basic, counted=True)
            time.sleep(failure.delay)
            return answer
        if failure is not None:
            if failure.kind in ("503", "hang"):
                time.sleep(failure.delay)
                return 503, "<html><body>Service Unavailable</body></html>"
            if failure.kind == "429":
                return 429, {"error": "rate_limited"}, {"Retry-After": "120"}
            if failure.kind == "invalid_grant":
                return 400, {"error": "invalid_grant", "error_description": "grant revoked"}
            if failure.kind == "trickle":
                body = b'{"access_token": "' + b"t" * 200 + b'", "token_type": "Bearer"}'
                return 200, _Trickle(body, failure.delay or 1.0, self._stopping)
            if failure.kind == "html":
                return 200, "<html><body>Sign in to the hotel Wi-Fi</body></html>"
            return 200, b"{not json"
        if not self._client_ok(form, basic):
            return 401, {"error": "invalid_client"}
        with self._lock:
            if grant_type == "authorization_code":
                return self._code_grant(form)
            if grant_type == "refresh_token":
                return self._refresh_grant(form)
            if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
                return self._device_grant(form)
        return 400, {"error": "unsupported_grant_type"}

    def _code_grant(self, form: dict[str, str]) -> tuple[int, Any]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at < time.time():
            return 400, {"error": "invalid_grant"}
        code.used = True
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != code.challenge or form.get("redirect_uri") != code.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "PKCE or redirect"}
        return 200, self._issue(self._grant(code.scope), with_refresh=True, nonce=code.nonce)

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, Any]:
        token = self._tokens.get(form.get("refresh_token", ""))
        if token is None or token.kind != "refresh":
            return 400, {"error": "invalid_grant"}
        if token.used and self.reuse_detection:
            # A rotated-out token came back: someone has a copy. End the whole grant.
            token.grant.active = False
            return 400, {"error": "invalid_grant", "error_description": "refresh token reused"}
        if not token.active(time.time()):
            return 400, {"error": "invalid_grant"}
        body = self._issue(token.grant, with_refresh=self.rotate)
        if self.refresh_expires_in is not None:
            body["expires_in"] = self.refresh_expires_in
        if self.rotate:
            token.used = True
        return 200, body

    def _device_grant(self, form: dict[str, str]) -> tuple[int, Any]:
        dev = self._devices.get(form.get("device_code", ""))
        if dev is None:
            return 400, {"error": "invalid_grant"}
        now = time.time()
        if now > dev.expires_at:
            return 400, {"error": "expired_token"}
        too_fast = now - dev.last_poll < dev.interval - 0.2
        dev.last_poll = now
        if self._slow_downs > 0 or too_fast:
            self._slow_downs = max(0, self._slow_downs - 1)
            dev.interval += 5
            return 400, {"error": "slow_down"}
        if dev.status == "pending":
            return 400, {"error": "authorization_pending"}
        if dev.status == "denied":
            return 400, {"error": "access_denied"}
        if dev.status == "done":
            return 400, {"error": "invalid_grant"}
        dev.status = "done"
        return 200, self._issue(self._grant(dev.scope), with_refresh=True)

    def _device_authorization(self, form: dict[str, str]) -> tuple[int, Any]:
        if form.get("client_id") != self.client_id and self.client_secret is None:
            return 401, {"error": "invalid_client"}
        device_code = self._new("dc")
        user_code = "-".join(
            "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4)) for _ in range(2)
        )
        with self._lock:
            self._devices[device_code] = _Device(
                user_code,
                form.get("scope", ""),
                time.time() + self.device_lifetime,
                self.device_interval,
            )
        return 200, {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": f"{self.issuer}/device",
            "verification_uri_complete": f"{self.issuer}/device?user_code={user_code}",
            "expires_in": int(self.device_lifetime),
            "interval": int(self.device_interval),
        }

    def _revoke(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, Any]:
        if not self._client_ok(form, basic):
            return 401, {"error": "invalid_client"}
        with self._lock:
            token = self._tokens.get(form.get("token", ""))
            if token is not None:
                token.revoked = True
                if token.kind == "refresh":
                    token.grant.active = False
        return 200, ""

    def _introspect(self, form: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            found = self._tokens.get(form.get("token", ""))
            if found is None or not found.active(time.time()):
                return 200, {"active": False}  # RFC 7662 2.2: nothing else about it
            return 200, {
                "active": True,
                "token_type": "Bearer" if found.kind == "access" else "refresh_token",
                "scope": found.grant.scope,
                "client_id": self.client_id,
                "username": found.grant.username,
                "email": found.grant.email,
                "sub": found.grant.username,
                **({"exp": int(found.expires_at)} if found.expires_at is not None else {}),
            }

    def _userinfo(self, auth_header: str) -> tuple[int, Any]:
        token = auth_header.removeprefix("Bearer ").strip()
        with self._lock:
            found = self._tokens.get(token)
            ok = found is not None and found.kind == "access" and found.active(time.time())
        if not ok or found is None:
            return 401, {"error": "invalid_token"}
        return 200, {"sub": found.grant.username, "email": found.grant.email}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    auth: AuthServer


@dataclass
class _Trickle:
    """A body sent one byte every ``delay`` seconds, until sent, the client hangs up or
    the server stops."""

    data: bytes
    delay: float
    stopping: threading.Event

    def send(self, out: Any) -> None:
        for i in range(len(self.data)):
            if self.stopping.wait(self.delay):
                return
            out.write(self.data[i : i + 1])
            out.flush()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        auth = self.server.auth
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        oidc = parts.path == "/.well-known/openid-configuration" and auth.oidc_discovery
        rfc8414 = parts.path == "/.well-known/oauth-authorization-server" and auth.rfc8414_discovery
        if oidc or rfc8414:
            self._reply(200, auth.metadata())
        elif parts.path == "/authorize":
            status, headers, text = auth._authorize(query)
            self._reply(status, text, headers)
        elif parts.path == "/userinfo":
            self._reply(*auth._userinfo(self.headers.get("Authorization", "")))
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        auth = self.server.auth
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        basic = _basic(self.headers.get("Authorization", ""))
        path = urlsplit(self.path).path
        if path == "/token":
            self._reply(*auth._token(form, basic))
        elif path == "/device_authorization":
            self._reply(*auth._device_authorization(form))
        elif path == "/device":
            ok = auth.approve(form.get("user_code", ""), allow=form.get("action") != "deny")
            self._reply(200 if ok else 400, "done" if ok else "unknown code")
        elif path == "/revoke":
            self._reply(*auth._revoke(form, basic))
        elif path == "/introspect":
            self._reply(*auth._introspect(form))
        else:
            self._reply(404, {"error": "not_found"})

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        trickle = body if isinstance(body, _Trickle) else None
        if trickle is not None:
            data, ctype = trickle.data, "application/json"
        elif isinstance(body, dict):
            data = json.dumps(body).encode()
            ctype = "application/json"
        elif isinstance(body, bytes):
            data, ctype = body, "application/json"
        else:
            data, ctype = str(body).encode(), "text/html; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if trickle is not None:
                trickle.send(self.wfile)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    from urllib.parse import unquote

    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote(user), unquote(password)


# -- the headless user ----------------------------------------------------------------------


def consent(authorize_url: str, *, timeout: float = 10.0) -> httpx2.Response:
    """Do what a person in a browser does: open the authorization URL, consent, and be
    redirected to the app's loopback listener. Returns the listener's page."""
    with httpx2.Client(follow_redirects=False, timeout=timeout) as client:
        answer = client.get(authorize_url)
        if answer.status_code != 302:
            raise AssertionError(f"authorization server said {answer.status_code}: {answer.text}")
        return client.get(answer.headers["Location"])


def enter_user_code(verification_uri: str, user_code: str, *, allow: bool = True) -> None:
    """Type the device flow's code at the verification page and consent (or refuse)."""
    answer = httpx2.post(
        verification_uri,
        data={"user_code": user_code, "action": "approve" if allow else "deny"},
        timeout=10,
    )
    if answer.status_code != 200:
        raise AssertionError(f"verification page said {answer.status_code}")


def run_for_demo(
    config_dir: Path, *, name: str = "corp", token_lifetime: float = 20.0
) -> AuthServer:
    """Start a server and write ``providers.toml`` in ``config_dir`` naming it ``name``
    by issuer only; the caller stops it. With ``consent``, a demo can add an account
    through the real browser flow with no browser."""
    server = AuthServer(token_lifetime=token_lifetime).start()
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "providers.toml").write_text(server.provider_entry(name))
    return server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sigilforge.testing.authserver",
        description=(
            "Try OAuth with no account anywhere: run a local OAuth 2.0 / OpenID Connect "
            "server on 127.0.0.1 that signs every request in as 'alice' without asking, "
            "and print the providers.toml entry that names it. Your providers.toml is "
            "never written."
        ),
    )
    parser.add_argument("--provider-name", default="local", help="the name to print (local)")
    parser.add_argument(
        "--port", type=int, default=0, help="listen on this port (default: any free one)"
    )
    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long its access tokens live (60), to watch them being refreshed",
    )
    parser.add_argument(
        "--redirect-port",
        type=int,
        default=None,
        metavar="PORT",
        help=(
            "behave like a strict enterprise server: accept only the redirect URI "
            "http://127.0.0.1:PORT/callback and require an OIDC nonce"
        ),
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m sigilforge.testing.authserver``: serve until interrupted."""
    from sigilforge import paths

    args = _parser().parse_args(argv)
    strict = args.redirect_port is not None
    server = AuthServer(
        token_lifetime=args.token_lifetime,
        listen_port=args.port,
        redirect_uri=f"http://127.0.0.1:{args.redirect_port}/callback" if strict else None,
        require_nonce=strict,
    )
    try:
        server.start()
    except OSError as exc:
        print(
            f"authserver: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    entry = server.provider_entry(args.provider_name)
    if strict:
        entry += 'scopes = ["openid", "email"]\n'
    name = args.provider_name
    print(
        f"A local OAuth server runs at {server.issuer} until you press Ctrl-C.\n"
        "It signs every request in as alice without asking.\n\n"
        f"Add this to {paths.providers_file()} (it is not written for you):\n\n"
        f"{entry}\n"
        "Then, in another terminal:\n"
        f"  sigilforge add-account {name} alice\n"
        f"  sigilforge get-token {name} alice\n"
        f"  sigilforge remove-account {name} alice\n",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
