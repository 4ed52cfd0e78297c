"""A real dovecot on loopback that accepts only OAuth 2.0 bearer tokens.

Its own config, sockets, state, log and mail all live in one temp dir; nothing of the
system's dovecot is read or touched. IMAP and submission listen on free ports of
``127.0.0.1`` and offer SASL ``XOAUTH2`` and ``OAUTHBEARER`` only; dovecot's ``oauth2``
passdb (built into Debian 12's dovecot 2.3) checks every token by RFC 7662 introspection
at the URL it is given, with no auth cache, so a token that stops being active is refused
on the next login. Mail sent through submission is relayed (``LmtpRelay``) to dovecot's
own LMTP service and stored in the recipient's Maildir, where ``messages()`` reads it.

As root (CI) the services drop to Debian's ``dovecot``/``dovenull`` users and the mail
belongs to ``dovecot``; as anyone else every process runs as that user. Either way the
login services are not chrooted: this is a test rig on loopback, not a mail server.
"""

from __future__ import annotations

import email
import email.policy
import grp
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sigilforge.testing.lmtp_relay import LmtpRelay

__all__ = ["DovecotServer", "DovecotStartError"]

_BIND_ATTEMPTS = 3


class DovecotStartError(RuntimeError):
    """dovecot did not come up; the message carries the tail of its log."""


@dataclass
class DovecotServer:
    """``with DovecotServer(auth.issuer + "/introspect") as mail:`` -> ``mail.imap_port``.

    ``username_attribute`` names the introspection field that must equal the SASL user
    (dovecot's default, ``email``, fits XOAUTH2's ``user=ADDRESS``). ``debug`` makes
    dovecot log every auth step, tokens included, into the rig's own log.
    """

    introspection_url: str
    username_attribute: str = "email"
    parent: Path | None = None
    debug: bool = False
    start_timeout: float = 30.0

    def __post_init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._relay: LmtpRelay | None = None
        self._root: Path | None = None
        self.imap_port = self.submission_port = self.lmtp_port = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> DovecotServer:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise DovecotStartError("dovecot is not installed (Debian: dovecot-imapd)")
        self._root = Path(tempfile.mkdtemp(prefix="sigilforge-dovecot-", dir=self.parent))
        try:
            self._relay = LmtpRelay(0).start()
            for _ in range(_BIND_ATTEMPTS):
                try:
                    self._launch(binary)
                    return self
                except _PortTaken:
                    continue  # another process took a port first: new ports, once more
            raise DovecotStartError(self._failure("ports kept being taken"))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc is not None:
            _terminate(self._proc)
            self._proc = None
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test uses -----------------------------------------------------------------

    @property
    def root(self) -> Path:
        assert self._root is not None, "not started"
        return self._root

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    def log_text(self) -> str:
        """dovecot's own log (auth failures are explained here with ``auth_verbose``)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 15.0) -> bool:
        """Whether ``text`` shows up in the log within ``timeout`` seconds: dovecot's log
        process writes after the client has its answer, so a line may trail the reply."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def deliver(
        self, to: str, subject: str, body: str, *, sender: str = "rig@example.test"
    ) -> None:
        """Store a message in ``to``'s INBOX through dovecot's LMTP (no auth needed)."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, to, subject
        msg.set_content(body)
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            refused = lmtp.sendmail(sender, [to], msg.as_bytes())
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)

    def messages(self, user: str) -> list[email.message.EmailMessage]:
        """Every message stored in ``user``'s INBOX, oldest first."""
        maildir = self.root / "mail" / user / "Maildir"
        files = [p for sub in ("new", "cur") for p in (maildir / sub).glob("*") if p.is_file()]
        parsed = []
        for path in sorted(files, key=lambda p: p.stat().st_mtime_ns):
            with path.open("rb") as fh:
                msg = email.message_from_binary_file(fh, policy=email.policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            parsed.append(msg)
        return parsed

    # -- the parts ------------------------------------------------------------------------

    def _launch(self, binary: str) -> None:
        assert self._relay is not None
        self.imap_port, self.submission_port, self.lmtp_port = _free_ports(3)
        self._relay.lmtp_port = self.lmtp_port
        _write_config(self.root, self, self._relay.port)
        log = self.root / "dovecot.log"
        log.unlink(missing_ok=True)
        stderr = (self.root / "dovecot.stderr").open("wb")
        with stderr:
            # -F: stays in the foreground, so it is ours to wait on and to stop.
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            )
        deadline = time.monotonic() + self.start_timeout
        for port, greeting in (
            (self.imap_port, b"* OK"),
            (self.submission_port, b"220 "),
            (self.lmtp_port, b"220 "),
        ):
            self._await_greeting(port, greeting, deadline)

    def _await_greeting(self, port: int, greeting: bytes, deadline: float) -> None:
        assert self._proc is not None
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.settimeout(max(0.1, deadline - time.monotonic()))
                    if sock.makefile("rb").readline(512).startswith(greeting):
                        return
            except OSError:
                pass
            try:
                # Waiting on the process is the pause between tries: it ends early if
                # dovecot exits (a taken port, a config error).
                self._proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise DovecotStartError(self._failure("no greeting in time")) from None
                continue
            self._proc = None
            text = self._failure("dovecot exited")
            if "Address already in use" in text:
                raise _PortTaken(text)
            raise DovecotStartError(text)

    def _failure(self, what: str) -> str:
        stderr = self.root / "dovecot.stderr"
        out = stderr.read_text(errors="replace") if stderr.exists() else ""
        tail = "\n".join((out + self.log_text()).splitlines()[-20:])
        return f"{what} (config {self.config_path}):\n{tail}"


class _PortTaken(Exception):
    pass


def _accounts() -> tuple[str, str, pwd.struct_passwd]:
    """(internal user, login user, mail owner): Debian's unprivileged users as root,
    the caller itself otherwise."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me
    try:
        internal = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        raise DovecotStartError("users dovecot/dovenull missing (Debian: dovecot-core)") from None
    return "dovecot", "dovenull", internal


def _write_config(root: Path, server: DovecotServer, relay_port: int) -> None:
    internal, login, owner = _accounts()
    # The dropped-privilege services must reach the sockets and config under root.
    root.chmod(0o755)
    for sub in ("run", "state"):
        (root / sub).mkdir(exist_ok=True)
    mail = root / "mail"
    mail.mkdir(mode=0o700, exist_ok=True)
    os.chown(mail, owner.pw_uid, owner.pw_gid)
    (root / "oauth2.conf.ext").write_text(
        f"introspection_mode = post\n"
        f"introspection_url = {server.introspection_url}\n"
        f"username_attribute = {server.username_attribute}\n"
        "active_attribute = active\n"
        "active_value = true\n"
        "timeout_msecs = 10000\n"
        f"debug = {'yes' if server.debug else 'no'}\n"
    )
    (root / "dovecot.conf").write_text(
        _CONFIG.format(
            root=root,
            internal=internal,
            group=grp.getgrgid(owner.pw_gid).gr_name,
            login=login,
            uid=owner.pw_uid,
            gid=owner.pw_gid,
            imap=server.imap_port,
            submission=server.submission_port,
            lmtp=server.lmtp_port,
            relay=relay_port,
            debug="yes" if server.debug else "no",
        )
    )


_CONFIG = """\
# Written by sigilforge.testing.dovecot: a throwaway instance for the tests.
instance_name = sigilforge-test
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap submission lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = {uid}
hostname = localhost
postmaster_address = postmaster@localhost

auth_mechanisms = xoauth2 oauthbearer
auth_cache_size = 0
auth_verbose = yes
auth_debug = {debug}
passdb {{
  driver = oauth2
  args = {root}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = allow_all_users=yes uid={uid} gid={gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir

submission_relay_host = 127.0.0.1
submission_relay_port = {relay}
submission_relay_trusted = yes

# chroot needs root; none of these is worth one in a loopback test rig.
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service submission-login {{
  chroot =
  inet_listener submission {{
    address = 127.0.0.1
    port = {submission}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"""


def _free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1 (dovecot binds them itself, so another process
    can still take one first: ``start`` then tries again with new ones)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # the master stops its services before it exits
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
