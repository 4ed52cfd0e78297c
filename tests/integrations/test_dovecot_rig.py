"""The dovecot rig takes mail from msmtp and gives it to mbsync for a valid token only.

Throwaway proof of the rig: the token is printed by ``echo`` from the clients' configs
here; the issue-10 tests swap in ``sigilforge get-token``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from sigilforge.testing import mail_clients
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.dovecot import DovecotServer

ALICE = "alice@example.test"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("msmtp", "mbsync"))
    or not Path("/usr/sbin/dovecot").exists(),
    reason="msmtp, isync and dovecot-imapd are installed by `make deps`",
)


@pytest.fixture
def mail(auth_server: AuthServer) -> Iterator[DovecotServer]:
    with DovecotServer(f"{auth_server.issuer}/introspect") as server:
        yield server


def _send(
    mail: DovecotServer, tmp_path: Path, mech: str, token: str, subject: str
) -> mail_clients.MailRun:
    return mail_clients.msmtp(
        mail,
        tmp_path,
        user=ALICE,
        password_command=f"echo {token}",
        mechanism=mech,
        message=f"From: {ALICE}\nTo: {ALICE}\nSubject: {subject}\n\nsent with {mech}\n",
    )


@pytest.mark.parametrize("mech", ["xoauth2", "oauthbearer"])
def test_msmtp_sends_with_a_valid_token_and_dovecot_stores_it(
    mail: DovecotServer, auth_server: AuthServer, tmp_path: Path, mech: str
) -> None:
    token = auth_server.issue_grant(email=ALICE)["access_token"]
    sent = _send(mail, tmp_path, mech, token, f"hello over {mech}")
    assert sent.ok, sent.stderr + mail.log_text()[-2000:]
    assert [m["Subject"] for m in mail.messages(ALICE)] == [f"hello over {mech}"]
    assert mail.wait_for_log(f"method={mech.upper()}"), mail.log_text()[-2000:]


@pytest.mark.parametrize("mech", ["xoauth2", "oauthbearer"])
def test_msmtp_is_refused_with_a_token_that_is_not_active(
    mail: DovecotServer, tmp_path: Path, mech: str
) -> None:
    refused = _send(mail, tmp_path, mech, "not-a-token", "never stored")
    assert not refused.ok
    assert "authentication failed" in refused.stderr.lower()
    assert mail.messages(ALICE) == []


def test_msmtp_is_refused_with_another_addresss_token(
    mail: DovecotServer, auth_server: AuthServer, tmp_path: Path
) -> None:
    bobs = auth_server.issue_grant(username="bob", email="bob@example.test")["access_token"]
    refused = _send(mail, tmp_path, "xoauth2", bobs, "not bob's mailbox")
    assert not refused.ok
    assert mail.messages(ALICE) == []


def test_mbsync_fetches_over_xoauth2_with_a_valid_token(
    mail: DovecotServer, auth_server: AuthServer, tmp_path: Path
) -> None:
    mail.deliver(ALICE, "waiting for you", "fetch me")
    token = auth_server.issue_grant(email=ALICE)["access_token"]
    synced = mail_clients.mbsync(mail, tmp_path, user=ALICE, password_command=f"echo {token}")
    assert synced.ok, synced.stderr + mail.log_text()[-2000:]
    assert mail_clients.fetched(tmp_path) == ["waiting for you"]
    assert mail.wait_for_log("method=XOAUTH2"), mail.log_text()[-2000:]


def test_mbsync_is_refused_with_a_token_that_is_not_active(
    mail: DovecotServer, tmp_path: Path
) -> None:
    mail.deliver(ALICE, "waiting for you", "fetch me")
    synced = mail_clients.mbsync(mail, tmp_path, user=ALICE, password_command="echo not-a-token")
    assert not synced.ok
    assert mail_clients.fetched(tmp_path) == []
    assert mail.wait_for_log("Provided token is not valid"), mail.log_text()[-2000:]


def test_a_token_refused_once_revoked_shows_dovecot_caches_nothing(
    mail: DovecotServer, auth_server: AuthServer, tmp_path: Path
) -> None:
    grant = auth_server.issue_grant(email=ALICE)
    assert _send(mail, tmp_path, "xoauth2", grant["access_token"], "first").ok
    revoked = httpx2.post(
        f"{auth_server.issuer}/revoke",
        data={"token": grant["refresh_token"], "client_id": auth_server.client_id},
        timeout=10,
    )
    assert revoked.status_code == 200
    assert not _send(mail, tmp_path, "xoauth2", grant["access_token"], "second").ok
    assert [m["Subject"] for m in mail.messages(ALICE)] == ["first"]
