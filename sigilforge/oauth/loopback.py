"""The loopback redirect listener for native apps (RFC 8252 section 7.3).

One listener per flow, bound to ``127.0.0.1`` only (never ``0.0.0.0``, never
``localhost``, which may resolve to an address another user can reach) on a port the
kernel picks. It takes exactly one callback that carries the flow's ``state`` and
answers everything else -- a favicon, a scanner, a stale tab with another state -- with a
404 or a short page, without ending the flow. The pages it serves load nothing external
and are not cached. The request line is never logged: it carries the code.
"""

from __future__ import annotations

import errno
import hmac
import html
import http.server
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from sigilforge.errors import InvalidArgument

log = logging.getLogger(__name__)

__all__ = ["Callback", "LoopbackListener", "PortInUse"]

CALLBACK_PATH = "/callback"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sigilforge</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:4em auto;color:#222}}
h1{{font-size:1.4em}}</style></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""

_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class Callback:
    """The authorization response, as the browser delivered it."""

    params: dict[str, str] = field(repr=False)

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def iss(self) -> str | None:
        return self.params.get("iss")


class LoopbackListener:
    """``with LoopbackListener(state) as lis:`` -> ``lis.redirect_uri``, ``lis.wait(t)``."""

    def __init__(
        self,
        state: str,
        *,
        expected_iss: str | None = None,
        redirect_uri: str | None = None,
    ) -> None:
        """``redirect_uri``: a fixed ``http://127.0.0.1:PORT/PATH`` to bind exactly (for
        servers that match it exactly); None for a port the kernel picks."""
        self._state = state
        self._expected_iss = expected_iss
        self._result: Callback | None = None
        self._done = threading.Event()
        self._offer_lock = threading.Lock()
        host, port, self.path = _bind_target(redirect_uri)
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUse(
                    f"cannot listen on {redirect_uri}: port {port} is "
                    + ("in use by another program" if exc.errno == errno.EADDRINUSE else "refused")
                    + "; free it, or change redirect_uri in providers.toml "
                    "(and at the provider)"
                ) from None
            raise
        self._server.listener = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sigilforge-loopback",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        host = str(self._server.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.path}"

    def wait(self, timeout: float) -> Callback | None:
        """The callback, or None if ``timeout`` passed or the listener was closed.
        A callback counts from when the browser has its page (see ``_offer``)."""
        return self._result if self._done.wait(timeout) else None

    def close(self) -> None:
        """Stop listening; a waiter wakes up with whatever arrived (maybe nothing)."""
        if not self._done.is_set():
            self._done.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Called from the handler thread.
    def _offer(self, params: dict[str, str], send: Callable[[int, str, str], None]) -> None:
        # Two tabs may call back at once; only the first valid one counts.
        with self._offer_lock:
            taken = self._result is not None
            page = self._offer_locked(params)
            accepted = not taken and self._result is not None
        try:
            send(*page)
        finally:
            # The waiter wakes only once the browser has its page (or has gone away): a
            # waiter that then ends the process, as the CLI does, would otherwise cut the
            # page off and the user would see a broken connection instead of the outcome.
            if accepted:
                self._done.set()

    def _offer_locked(self, params: dict[str, str]) -> tuple[int, str, str]:
        state = params.get("state", "")
        if self._done.is_set() or self._result is not None:
            return 410, "Already done", "This sign-in has finished. You can close this tab."
        if not state or not hmac.compare_digest(state.encode(), self._state.encode()):
            return (
                400,
                "Not for this sign-in",
                "This page belongs to another or an older sign-in attempt. "
                "Go back to the terminal and start again if needed.",
            )
        self._result = Callback(params)
        if "error" in params:
            return (
                200,
                "Sign-in not completed",
                "The provider did not grant access. "
                + ("You can close this tab and go back to the terminal."),
            )
        iss = params.get("iss")
        expected = self._expected_iss
        if expected is not None and iss is not None and iss.rstrip("/") != expected.rstrip("/"):
            return 400, "Sign-in refused", "The answer came from an unexpected issuer."
        if not params.get("code"):
            return 400, "Sign-in failed", "The provider's answer had no authorization code."
        return 200, "Signed in", "Sigilforge has your authorization. You can close this tab."


class PortInUse(InvalidArgument):
    """The fixed redirect URI's port cannot be bound."""


def _bind_target(redirect_uri: str | None) -> tuple[str, int, str]:
    if redirect_uri is None:
        return "127.0.0.1", 0, CALLBACK_PATH
    # Checked when providers.toml was read (providers.check_redirect_uri).
    parts = urlsplit(redirect_uri)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port, parts.path


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR (HTTPServer's default) lets a fixed port be bound again while the
    # last flow's connections sit in TIME_WAIT; on Linux it never lets two listeners
    # share the port.
    listener: LoopbackListener
    # socketserver's default of 5 drops or delays connections when a browser (or
    # anything else on the machine) opens many at once.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # socketserver prints a traceback on the user's terminal; a client that resets
        # or stalls is normal on a loopback port, and the request line may hold a code.
        exc = sys.exc_info()[1]
        log.debug("loopback client dropped: %s", type(exc).__name__)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    # A client that connects and says nothing must not hold a thread for long.
    timeout = 5
    server_version = "sigilforge"
    sys_version = ""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.listener.path:
            self._page(404, "Not found", "Nothing here.")
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        params = {k: v[0] for k, v in query.items() if len(v) == 1}
        self.server.listener._offer(params, self._page)

    def do_POST(self) -> None:
        self._page(405, "Not allowed", "Nothing here.")

    def _page(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        self.send_response(status)
        for name, value in _HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # The request line holds the authorization code: never log it.
        pass
