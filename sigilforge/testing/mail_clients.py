"""msmtp and mbsync, configured against a ``DovecotServer`` and run within a time limit.

The password command is the caller's (``echo TOKEN`` in a rig test, ``sigilforge
get-token ...`` in the real ones): msmtp runs it as ``passwordeval``, mbsync as
``PassCmd``, both through ``/bin/sh``. It must not contain a double quote.

mbsync 1.4.4 (Debian 12) with the kdexoauth2 Cyrus SASL plugin never exits when dovecot
refuses an XOAUTH2 token: dovecot answers with the XOAUTH2 error challenge, the plugin has
already finished, mbsync prints ``IMAP wants more steps despite successful SASL
authentication.`` and then waits forever, even after the server hangs up. ``mbsync``
below stops it at that line and reports a refusal, so a test need not wait out a timeout.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sigilforge.testing.dovecot import DovecotServer

__all__ = ["MBSYNC_STUCK_AFTER_REFUSAL", "MailRun", "fetched", "mbsync", "mbsync_config", "msmtp"]

MBSYNC_STUCK_AFTER_REFUSAL = "IMAP wants more steps despite successful SASL authentication"
_CLIENT_PATH = "/usr/bin:/bin"


@dataclass(frozen=True)
class MailRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def msmtp(
    server: DovecotServer,
    workdir: Path,
    *,
    user: str,
    password_command: str,
    mechanism: str = "xoauth2",
    message: str,
    recipients: tuple[str, ...] = (),
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> MailRun:
    """Send ``message`` (headers and body) with msmtp through the rig's submission port,
    authenticating as ``user`` with SASL ``mechanism`` (``xoauth2`` or ``oauthbearer``).
    ``env`` is added to the client's minimal environment (``PATH``, ``HOME``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rc = workdir / f"msmtprc-{mechanism}"
    rc.write_text(
        "account default\n"
        "host 127.0.0.1\n"
        f"port {server.submission_port}\n"
        "tls off\n"
        f"auth {mechanism}\n"
        f"user {user}\n"
        f"from {user}\n"
        f'passwordeval "{password_command}"\n'
    )
    rc.chmod(0o600)  # msmtp refuses a config others can read
    done = subprocess.run(
        ["msmtp", "-C", str(rc), *(recipients or (user,))],
        input=message,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_client_env(workdir, env),
        check=False,
    )
    return MailRun(done.returncode, done.stdout, done.stderr)


def mbsync_config(
    server: DovecotServer, workdir: Path, *, user: str, password_command: str
) -> Path:
    """An mbsyncrc pulling ``user``'s INBOX over XOAUTH2 into ``workdir/local/INBOX``."""
    local = workdir / "local"
    local.mkdir(parents=True, exist_ok=True)
    rc = workdir / "mbsyncrc"
    rc.write_text(
        "IMAPAccount rig\n"
        "Host 127.0.0.1\n"
        f"Port {server.imap_port}\n"
        f"User {user}\n"
        f'PassCmd "{password_command}"\n'
        "AuthMechs XOAUTH2\n"
        "SSLType None\n"
        "\n"
        "IMAPStore remote\n"
        "Account rig\n"
        "\n"
        "MaildirStore local\n"
        f"Path {local}/\n"
        f"Inbox {local}/INBOX\n"
        "\n"
        "Channel inbox\n"
        "Far :remote:\n"
        "Near :local:\n"
        "Patterns INBOX\n"
        "Create Near\n"
        "Sync Pull\n"
        "SyncState *\n"
    )
    return rc


def mbsync(
    server: DovecotServer,
    workdir: Path,
    *,
    user: str,
    password_command: str,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> MailRun:
    """Pull ``user``'s INBOX with mbsync (``fetched(workdir)`` lists what arrived)."""
    rc = mbsync_config(server, workdir, user=user, password_command=password_command)
    proc = subprocess.Popen(
        ["mbsync", "-c", str(rc), "inbox"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_client_env(workdir, env),
    )
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None
    assert stderr is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(stdout.read()))
    reader.start()
    deadline = threading.Timer(timeout, proc.kill)
    deadline.start()
    err: list[str] = []
    stuck = False
    try:
        for line in stderr:
            err.append(line)
            if MBSYNC_STUCK_AFTER_REFUSAL in line:
                stuck = True
                proc.kill()
        code = proc.wait(timeout)
    finally:
        deadline.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)
        stdout.close()
        stderr.close()
    # A refusal mbsync could not report by exiting is still a failure, never success.
    return MailRun(1 if stuck else code, "".join(out), "".join(err))


def _client_env(workdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    """Only what the client needs, plus ``extra`` (what its password command needs)."""
    return {"PATH": _CLIENT_PATH, **(extra or {}), "HOME": str(workdir)}


def fetched(workdir: Path) -> list[str]:
    """The subjects of the messages mbsync stored under ``workdir``, sorted."""
    inbox = workdir / "local" / "INBOX"
    return sorted(
        line.removeprefix("Subject: ")
        for sub in ("new", "cur")
        for path in (inbox / sub).glob("*")
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("Subject: ")
    )
