"""msmtp and mbsync get their token from ``sigilforge get-token`` and reach a real
dovecot that checks it by introspection at the authorization server, before and after
the token expires: the second round only works because sigilforge refreshed.

The password commands are the README recipe's lines, word for word."""

from __future__ import annotations

import base64
import imaplib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge import Broker
from sigilforge.testing import mail_clients
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.client_env import sigilforge_env
from sigilforge.testing.dovecot import DovecotServer
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER
from sigilforge.testing.signin import sign_in, write_provider

ALICE = "alice@example.test"
# The README's recipes use exactly these.
MSMTP_PASSWORDEVAL = "sigilforge get-token corp alice"
MBSYNC_PASSCMD = "sigilforge get-token corp alice"
LIFETIME = 20.0  # its 2 s refresh margin outlasts a loaded machine between get-token and AUTH

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("msmtp", "mbsync"))
    or not Path("/usr/sbin/dovecot").exists(),
    reason="msmtp, isync and dovecot-imapd are installed by `make deps`",
)


@pytest.fixture
def mail(auth_server: AuthServer) -> Iterator[DovecotServer]:
    with DovecotServer(f"{auth_server.issuer}/introspect") as server:
        yield server


@pytest.fixture
def alice(home: Home, auth_server: AuthServer) -> Home:
    auth_server.token_lifetime = LIFETIME
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
    return home


def _current_token(home: Home) -> str:
    done = subprocess.run(
        ["sigilforge", "get-token", "corp", "alice"],
        env=sigilforge_env(home.env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _round(mail: DovecotServer, home: Home, workdir: Path, label: str) -> None:
    env = sigilforge_env(home.env)
    for mech in ("xoauth2", "oauthbearer"):
        sent = mail_clients.msmtp(
            mail,
            workdir,
            user=ALICE,
            password_command=MSMTP_PASSWORDEVAL,
            mechanism=mech,
            message=f"From: {ALICE}\nTo: {ALICE}\nSubject: {label} {mech}\n\nhi\n",
            env=env,
        )
        assert sent.ok, sent.stderr + mail.log_text()[-2000:]
        assert MARKER not in sent.stdout + sent.stderr
    synced = mail_clients.mbsync(
        mail, workdir / "mbsync", user=ALICE, password_command=MBSYNC_PASSCMD, env=env
    )
    assert synced.ok, synced.stderr + mail.log_text()[-2000:]
    # A fresh local maildir: mbsync pulls every message in the INBOX, this round's too.
    assert {f"{label} oauthbearer", f"{label} xoauth2"} <= set(
        mail_clients.fetched(workdir / "mbsync")
    )


def _wait_inactive(auth_server: AuthServer, token: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while auth_server.introspect(token):
        assert time.monotonic() < deadline, "the token never expired"
        time.sleep(0.2)


def test_msmtp_and_mbsync_work_before_and_after_the_token_expires(
    mail: DovecotServer, auth_server: AuthServer, alice: Home, tmp_path: Path
) -> None:
    first = _current_token(alice)
    _round(mail, alice, tmp_path / "before", "before")
    refreshes = auth_server.token_requests("refresh_token")

    _wait_inactive(auth_server, first, timeout=LIFETIME * 3)
    _round(mail, alice, tmp_path / "after", "after")

    assert auth_server.token_requests("refresh_token") > refreshes
    assert not auth_server.introspect(first), "dovecot could only have accepted a new token"
    assert mail.wait_for_log("method=XOAUTH2"), mail.log_text()[-2000:]
    assert mail.wait_for_log("method=OAUTHBEARER"), mail.log_text()[-2000:]


@pytest.mark.parametrize("fmt", ["xoauth2", "oauthbearer"])
def test_the_sasl_formats_are_accepted_by_dovecot_as_they_are(
    mail: DovecotServer, alice: Home, fmt: str
) -> None:
    done = subprocess.run(
        ["sigilforge", "get-token", "corp", "alice", "--format", fmt, "--user", ALICE],
        env=sigilforge_env(alice.env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    raw = base64.b64decode(done.stdout.strip(), validate=True)
    with imaplib.IMAP4("127.0.0.1", mail.imap_port, timeout=30) as imap:
        typ, _ = imap.authenticate(fmt.upper(), lambda _challenge: raw)
        assert typ == "OK"
