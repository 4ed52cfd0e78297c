"""A loopback SMTP relay that hands every message to an LMTP server.

Dovecot 2.3's submission service authenticates the sender (XOAUTH2, OAUTHBEARER through
its oauth2 passdb) but delivers nothing itself: it proxies to ``submission_relay_host``,
speaking SMTP, and dovecot's own LMTP service refuses ``EHLO``. This relay is the missing
hop, so a message sent with msmtp ends up stored by dovecot (LMTP) in the recipient's
mailbox. It speaks just the SMTP a trusted relay client uses; it is no mail server.
"""

from __future__ import annotations

import contextlib
import smtplib
import socketserver
import threading
from dataclasses import dataclass, field

__all__ = ["LmtpRelay"]

_LINE_LIMIT = 4096
_MESSAGE_LIMIT = 10 * 1024 * 1024


@dataclass
class LmtpRelay:
    """``with LmtpRelay(lmtp_port) as relay:`` -> an SMTP listener at ``relay.port``."""

    lmtp_port: int
    lmtp_host: str = "127.0.0.1"
    timeout: float = 10.0
    delivered: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: _Server | None = None
        self._lock = threading.Lock()

    def start(self) -> LmtpRelay:
        server = _Server(("127.0.0.1", 0), _Session)
        server.relay = self
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LmtpRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def deliver(self, sender: str, recipients: list[str], message: bytes) -> None:
        """Hand one message to LMTP; raises ``smtplib.SMTPException`` if any is refused."""
        with smtplib.LMTP(self.lmtp_host, self.lmtp_port, timeout=self.timeout) as lmtp:
            refused = lmtp.sendmail(sender, recipients, message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        with self._lock:
            self.delivered.append((sender, tuple(recipients)))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    relay: LmtpRelay


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.relay.timeout)  # a silent client ends

    def handle(self) -> None:
        # The client went away or broke the protocol: drop the connection.
        with contextlib.suppress(OSError, ValueError):
            self._converse()

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def _converse(self) -> None:
        sender: str | None = None
        recipients: list[str] = []
        self._reply("220 127.0.0.1 sigilforge test relay")
        while True:
            raw = self.rfile.readline(_LINE_LIMIT)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                self._reply("250-127.0.0.1")
                self._reply("250-8BITMIME")
                self._reply("250 ENHANCEDSTATUSCODES")
            elif verb == "HELO":
                self._reply("250 127.0.0.1")
            elif line.upper().startswith("MAIL FROM:"):
                sender, recipients = _address(line[10:]), []
                self._reply("250 2.1.0 OK")
            elif line.upper().startswith("RCPT TO:") and sender is not None:
                recipients.append(_address(line[8:]))
                self._reply("250 2.1.5 OK")
            elif verb == "DATA" and sender is not None and recipients:
                self._reply("354 end with <CRLF>.<CRLF>")
                self._reply(self._relay(sender, recipients, self._read_data()))
                sender, recipients = None, []
            elif verb == "RSET":
                sender, recipients = None, []
                self._reply("250 2.0.0 OK")
            elif verb == "NOOP":
                self._reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self._reply("221 2.0.0 bye")
                return
            else:
                self._reply("503 5.5.1 not here")

    def _read_data(self) -> bytes:
        lines: list[bytes] = []
        size = 0
        while True:
            raw = self.rfile.readline(_LINE_LIMIT)
            if not raw:
                raise ValueError("connection closed inside DATA")
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            size += len(raw)
            if size > _MESSAGE_LIMIT:
                raise ValueError("message too large")
            lines.append(raw[1:] if raw.startswith(b".") else raw)  # RFC 5321 4.5.2

    def _relay(self, sender: str, recipients: list[str], message: bytes) -> str:
        try:
            self.server.relay.deliver(sender, recipients, message)
        except (smtplib.SMTPException, OSError) as exc:
            return f"451 4.3.0 LMTP delivery failed: {type(exc).__name__}"
        return "250 2.0.0 delivered"


def _address(arg: str) -> str:
    """``<a@b> SIZE=12`` -> ``a@b``."""
    text = arg.strip()
    if text.startswith("<"):
        return text[1 : text.find(">")] if ">" in text else text[1:]
    return text.split(" ", 1)[0]
