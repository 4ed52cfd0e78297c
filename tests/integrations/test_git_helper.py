"""A real ``git`` reaches a smart-HTTP server that demands the account owner's token,
through ``credential.helper = sigilforge`` (``git-credential-sigilforge``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from sigilforge import Broker
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.client_env import sigilforge_env
from sigilforge.testing.git_http import GitHttpServer, git_client_env
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER
from sigilforge.testing.signin import sign_in, write_provider

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def git_rig(auth_server: AuthServer) -> Iterator[GitHttpServer]:
    with GitHttpServer(f"{auth_server.issuer}/introspect") as rig:
        yield rig


@pytest.fixture
def two_accounts(home: Home, auth_server: AuthServer) -> Home:
    """``corp/alice`` and ``corp/bob``, each signed in through the browser flow as the
    user of that name at the authorization server."""
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
        auth_server.username, auth_server.email = "bob", "bob@example.test"
        sign_in(broker, "bob")
    return home


def _host(url: str) -> str:
    return url.split("/")[2]


def _map_host(home: Home, line: str) -> None:
    with (home.config_dir / "config.toml").open("a") as fh:
        fh.write(f"\n[git]\n{line}\n")


def _git(home: Home, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = git_client_env(tmp_path / "git-home")
    env.update(sigilforge_env(home.env, client_path=env.get("PATH", "/usr/bin:/bin")))
    return subprocess.run(
        ["git", "-c", "credential.helper=sigilforge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_two_accounts_on_one_host_are_chosen_by_the_username_git_sends(
    two_accounts: Home, git_rig: GitHttpServer, tmp_path: Path
) -> None:
    alice_url = git_rig.add_repo("alice/project.git", owner="alice")
    bob_url = git_rig.add_repo("bob/tools.git", owner="bob")
    host = _host(alice_url)
    _map_host(two_accounts, f'"{host}" = "corp"')

    for who, url, repo in (
        ("alice", alice_url, "alice/project.git"),
        ("bob", bob_url, "bob/tools.git"),
    ):
        listed = _git(
            two_accounts,
            tmp_path,
            "-c",
            f"credential.http://{host}.username={who}",
            "ls-remote",
            url,
        )
        assert listed.returncode == 0, listed.stderr
        assert f"{git_rig.head(repo)}\trefs/heads/main" in listed.stdout
        assert MARKER not in listed.stdout + listed.stderr
    assert {a.username for a in git_rig.attempts if a.allowed} == {"alice", "bob"}

    cloned = _git(
        two_accounts,
        tmp_path,
        "-c",
        f"credential.http://{host}.username=bob",
        "clone",
        "-q",
        bob_url,
        str(tmp_path / "clone"),
    )
    assert cloned.returncode == 0, cloned.stderr


def test_several_accounts_and_no_username_is_refused_not_guessed(
    two_accounts: Home, git_rig: GitHttpServer, tmp_path: Path
) -> None:
    url = git_rig.add_repo("alice/project.git", owner="alice")
    _map_host(two_accounts, f'"{_host(url)}" = "corp"')
    refused = _git(two_accounts, tmp_path, "ls-remote", url)
    assert refused.returncode != 0
    assert "several corp accounts (alice, bob)" in refused.stderr
    assert all(a.username is None for a in git_rig.attempts), "a guess reached the server"


def test_a_host_path_mapping_picks_the_account(
    two_accounts: Home, git_rig: GitHttpServer, tmp_path: Path
) -> None:
    url = git_rig.add_repo("bob/tools.git", owner="bob")
    host = _host(url)
    _map_host(two_accounts, f'"{host}" = "corp/alice"\n"{host}/bob" = "corp/bob"')
    listed = _git(two_accounts, tmp_path, "-c", "credential.useHttpPath=true", "ls-remote", url)
    assert listed.returncode == 0, listed.stderr


def test_credential_fill_answers_and_store_erase_change_nothing(
    two_accounts: Home, tmp_path: Path
) -> None:
    _map_host(two_accounts, '"forge.test" = "corp/alice"')
    ask = "protocol=https\nhost=forge.test\n\n"
    filled = subprocess.run(
        ["git", "-c", "credential.helper=sigilforge", "credential", "fill"],
        input=ask,
        env={**git_client_env(tmp_path / "git-home"), **sigilforge_env(two_accounts.env)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert filled.returncode == 0, filled.stderr
    answer = dict(line.split("=", 1) for line in filled.stdout.splitlines())
    assert answer["username"] == "alice"
    assert MARKER in answer["password"]
    before = two_accounts.accounts_file.read_bytes()
    for op in ("store", "erase", "some-future-operation"):
        done = subprocess.run(
            ["git-credential-sigilforge", op],
            input=filled.stdout + "\n",
            env=sigilforge_env(two_accounts.env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
    assert two_accounts.accounts_file.read_bytes() == before


def _helper(home: Home, op: str, text: str) -> str:
    done = subprocess.run(
        ["git-credential-sigilforge", op],
        input=text,
        env=sigilforge_env(home.env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_erase_of_the_current_token_makes_the_next_get_refresh(
    two_accounts: Home, auth_server: AuthServer
) -> None:
    _map_host(two_accounts, '"forge.test" = "corp/alice"')
    ask = "protocol=https\nhost=forge.test\n\n"
    first = dict(line.split("=", 1) for line in _helper(two_accounts, "get", ask).splitlines())
    refreshes = auth_server.token_requests("refresh_token")

    # An erase of some other password (an old token) marks nothing.
    _helper(two_accounts, "erase", ask.replace("\n\n", "\npassword=stale\n\n"))
    again = dict(line.split("=", 1) for line in _helper(two_accounts, "get", ask).splitlines())
    assert again["password"] == first["password"]
    assert auth_server.token_requests("refresh_token") == refreshes

    # git erases the token the server just refused: the next get refreshes, once.
    _helper(two_accounts, "erase", ask.replace("\n\n", f"\npassword={first['password']}\n\n"))
    fresh = dict(line.split("=", 1) for line in _helper(two_accounts, "get", ask).splitlines())
    assert fresh["password"] != first["password"]
    assert auth_server.token_requests("refresh_token") == refreshes + 1
    later = dict(line.split("=", 1) for line in _helper(two_accounts, "get", ask).splitlines())
    assert later["password"] == fresh["password"]


def test_a_token_the_server_refuses_is_refreshed_after_gits_erase(
    home: Home, auth_server: AuthServer, git_rig: GitHttpServer, tmp_path: Path
) -> None:
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
        token = broker.get_token("corp", "alice").token
    url = git_rig.add_repo("alice/project.git", owner="alice")
    _map_host(home, f'"{_host(url)}" = "corp"')
    assert _git(home, tmp_path, "ls-remote", url).returncode == 0

    # The provider revokes the access token (not the grant) before it expires.
    revoked = httpx2.post(
        f"{auth_server.issuer}/revoke",
        data={"token": token, "client_id": auth_server.client_id},
        timeout=10,
    )
    assert revoked.status_code == 200
    refused = _git(home, tmp_path, "ls-remote", url)
    assert refused.returncode != 0  # git got a 401 and told its helpers to erase the token
    refreshes = auth_server.token_requests("refresh_token")

    again = _git(home, tmp_path, "ls-remote", url)
    assert again.returncode == 0, again.stderr
    assert auth_server.token_requests("refresh_token") == refreshes + 1
