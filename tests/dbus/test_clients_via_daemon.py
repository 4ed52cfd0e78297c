"""The real clients reach the broker daemon (activated on the bus) the way a desktop
user's do: git through the credential helper, msmtp through ``passwordeval``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing import mail_clients
from sigilforge.testing.authserver import AuthServer, consent
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import CliFlow
from sigilforge.testing.client_env import sigilforge_env
from sigilforge.testing.dovecot import DovecotServer
from sigilforge.testing.git_http import GitHttpServer, git_client_env

ALICE = "alice@example.test"


def _sign_in_through_daemon(rig: BrokerRig) -> None:
    flow = CliFlow(rig.env, "add-account", "corp", "alice", "--no-browser")
    assert consent(flow.line_after("Open this address in a browser")).status_code == 200
    code, _, err = flow.finish()
    assert code == 0, err
    assert rig.owner_pid() is not None


@pytest.fixture
def git_rig(auth_server: AuthServer) -> Iterator[GitHttpServer]:
    with GitHttpServer(f"{auth_server.issuer}/introspect") as rig:
        yield rig


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_ls_remote_through_the_daemon(
    corp_rig: BrokerRig, git_rig: GitHttpServer, tmp_path: Path
) -> None:
    _sign_in_through_daemon(corp_rig)
    url = git_rig.add_repo("alice/project.git", owner="alice")
    with (corp_rig.config_dir / "config.toml").open("a") as fh:
        fh.write(f'\n[git]\n"{url.split("/")[2]}" = "corp"\n')
    env = git_client_env(tmp_path / "git-home")
    env.update(sigilforge_env(corp_rig.env, client_path=env.get("PATH", ""), daemon=True))
    listed = subprocess.run(
        ["git", "-c", "credential.helper=sigilforge", "ls-remote", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "running in-process" not in listed.stderr


@pytest.mark.skipif(
    shutil.which("msmtp") is None or not Path("/usr/sbin/dovecot").exists(),
    reason="msmtp and dovecot are installed by `make deps`",
)
def test_msmtp_through_the_daemon(
    corp_rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> None:
    _sign_in_through_daemon(corp_rig)
    with DovecotServer(f"{auth_server.issuer}/introspect") as mail:
        sent = mail_clients.msmtp(
            mail,
            tmp_path,
            user=ALICE,
            password_command="sigilforge get-token corp alice",
            message=f"From: {ALICE}\nTo: {ALICE}\nSubject: via the daemon\n\nhi\n",
            env=sigilforge_env(corp_rig.env, daemon=True),
        )
        assert sent.ok, sent.stderr
        assert [m["Subject"] for m in mail.messages(ALICE)] == ["via the daemon"]
