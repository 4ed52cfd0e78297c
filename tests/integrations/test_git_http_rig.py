"""The git rig lets a real ``git`` in with the owner's token and nobody else.

Throwaway proof of the rig: the token comes from a one-line credential helper here; the
issue-10 tests swap in sigilforge's own helper.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.git_http import GitHttpServer, git_client_env

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def git_rig(auth_server: AuthServer) -> Iterator[GitHttpServer]:
    with GitHttpServer(f"{auth_server.issuer}/introspect") as rig:
        yield rig


def _git(
    env: dict[str, str], *args: str, helper: str | None = None
) -> subprocess.CompletedProcess[str]:
    config = ["-c", f"credential.helper={helper}"] if helper else []
    return subprocess.run(
        ["git", *config, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _helper(username: str, token: str) -> str:
    return f"!f(){{ echo username={username}; echo password={token}; }}; f"


def test_ls_remote_and_clone_work_with_the_owners_token(
    git_rig: GitHttpServer, auth_server: AuthServer, tmp_path: Path
) -> None:
    url = git_rig.add_repo("work-org/project.git", owner="alice", files={"hello.txt": "hi\n"})
    token = auth_server.issue_grant(username="alice")["access_token"]
    env = git_client_env(tmp_path / "home")

    listed = _git(env, "ls-remote", url, helper=_helper("alice", token))
    assert listed.returncode == 0, listed.stderr
    assert f"{git_rig.head('work-org/project.git')}\trefs/heads/main" in listed.stdout

    cloned = _git(env, "clone", "-q", url, str(tmp_path / "clone"), helper=_helper("alice", token))
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "clone" / "hello.txt").read_text() == "hi\n"


def test_without_a_helper_git_is_refused(git_rig: GitHttpServer, tmp_path: Path) -> None:
    url = git_rig.add_repo("work-org/project.git", owner="alice")
    refused = _git(git_client_env(tmp_path / "home"), "ls-remote", url)
    assert refused.returncode != 0
    # The 401 made git ask for credentials, and with no helper and no terminal it gave up.
    assert "could not read Username" in refused.stderr
    assert git_rig.attempts
    assert all(not a.allowed for a in git_rig.attempts)


@pytest.mark.parametrize("case", ["other-account", "wrong-username", "revoked", "junk"])
def test_a_token_that_is_not_the_owners_is_refused(
    git_rig: GitHttpServer, auth_server: AuthServer, tmp_path: Path, case: str
) -> None:
    url = git_rig.add_repo("alice/project.git", owner="alice")
    alice = auth_server.issue_grant(username="alice")
    bob = auth_server.issue_grant(username="bob")["access_token"]
    username, token = {
        "other-account": ("alice", bob),
        "wrong-username": ("bob", alice["access_token"]),
        "revoked": ("alice", alice["access_token"]),
        "junk": ("alice", "not-a-token"),
    }[case]
    if case == "revoked":
        answer = httpx2.post(
            f"{auth_server.issuer}/revoke",
            data={"token": alice["refresh_token"], "client_id": auth_server.client_id},
            timeout=10,
        )
        assert answer.status_code == 200
        assert not auth_server.introspect(token)
    refused = _git(
        git_client_env(tmp_path / "home"), "ls-remote", url, helper=_helper(username, token)
    )
    assert refused.returncode != 0
    assert "Authentication failed" in refused.stderr
