"""The one way this package talks HTTP: a time limit on every request, no redirects
followed on token endpoints, JSON asked for, and transport failures turned into
Sigilforge errors whose text names the host, never a URL query or a body."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx2

from sigilforge._version import __version__
from sigilforge.errors import NetworkError, ProviderError, Timeout
from sigilforge.providers import check_endpoint

__all__ = ["Http", "Reply"]

log = logging.getLogger(__name__)
# At DEBUG, httpcore logs whole response headers (a provider's Set-Cookie, say); our own
# line per request says what is worth knowing without risking a secret in the log.
logging.getLogger("httpcore2").setLevel(logging.WARNING)
logging.getLogger("httpx2").setLevel(logging.WARNING)

# A token response is small; a provider sending megabytes is broken or hostile.
_MAX_BODY = 1 << 20


class Reply:
    """A response read in full (bounded), with its JSON object if it carried one."""

    def __init__(
        self, status: int, content_type: str, body: bytes, retry_after: str | None = None
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.retry_after = retry_after

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None if it is not one (an HTML page, junk)."""
        if "json" not in self.content_type and not self.body.lstrip().startswith(b"{"):
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


_LOOPBACK_PATTERNS = ("all://127.0.0.1", "all://localhost", "all://[::1]")


class _Deadline:
    """One request's overall time limit. httpx's timeouts are per read: an endpoint that
    trickles a byte a second never trips them, and a refresh hung for 90 s. When the time
    is up this shuts the request's sockets down, which ends a read blocked in another
    thread (closing would not). Each request has a connection of its own (no keep-alive),
    so the trace of its connect names every socket it uses."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed, or the TLS layer took it over
        sock.shutdown(socket.SHUT_RDWR)


class Http:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._client = httpx2.Client(
            timeout=httpx2.Timeout(timeout),
            # See _Deadline: a reused connection's socket would be out of its reach.
            limits=httpx2.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": f"sigilforge/{__version__}"},
            trust_env=True,
            # A proxy from the environment serves the real providers; a loopback endpoint
            # (a local test or corporate bridge) is on this machine, and sending its codes
            # and tokens through a proxy would only leak them or fail.
            mounts=dict.fromkeys(_LOOPBACK_PATTERNS),
        )

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, what: str) -> Reply:
        return self._send("GET", url, what=what)

    def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        what: str,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        return self._send("POST", url, what=what, data=dict(form), auth=auth)

    def send_json(
        self,
        method: str,
        url: str,
        payload: Mapping[str, str],
        *,
        what: str,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        return self._send(method, url, what=what, json_body=dict(payload), auth=auth)

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        data: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        check_endpoint(url, what=what)
        host = urlsplit(url).netloc
        deadline = _Deadline(self.timeout)
        try:
            with (
                deadline,
                self._client.stream(
                    method,
                    url,
                    data=data,
                    json=json_body,
                    auth=httpx2.BasicAuth(*auth) if auth else None,
                    extensions={"trace": deadline.trace},
                ) as response,
            ):
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_BODY:
                        raise ProviderError(f"{what} at {host} sent an oversized answer")
                status = response.status_code
                content_type = response.headers.get("content-type", "")
                retry_after = response.headers.get("retry-after")
        except httpx2.TimeoutException:
            raise Timeout(f"{what} at {host} did not answer in {self.timeout:g} s") from None
        except httpx2.HTTPError as exc:
            if deadline.expired:
                raise Timeout(f"{what} at {host} did not answer in {self.timeout:g} s") from None
            raise NetworkError(f"cannot reach {what} at {host} ({_why(exc)})") from None
        log.debug("%s %s at %s: HTTP %d", method, what, host, status)
        return Reply(status, content_type.lower(), body, retry_after)


def _why(exc: BaseException) -> str:
    """Why a request failed, in a user's words: the OS's or TLS's reason when the chain of
    causes has one, never the HTTP library's class name."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(seen, socket.gaierror):
            return "unknown host name"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx2.ProxyError):
        return "the proxy refused the connection"
    if isinstance(exc, httpx2.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx2.ProtocolError):
        return "the answer was not valid HTTP"
    return "the connection failed"
