"""get-token on OAuth accounts: refresh ahead of expiry, rotation, one refresh for many
callers across processes, and what each provider failure does to the stored tokens."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx2
import pytest

from sigilforge import events, paths
from sigilforge.accounts import AccountStore
from sigilforge.broker import Broker
from sigilforge.config import Config
from sigilforge.errors import ProviderError, ReauthRequired
from sigilforge.events import Event, TokenRefreshed
from sigilforge.model import AccountStatus, TokenSet
from sigilforge.oauth.http import Reply
from sigilforge.oauth.token_endpoint import oauth_error
from sigilforge.refresh_timer import start_refresh_timer
from sigilforge.store import open_store
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.cli import RunCli
from sigilforge.testing.hammer import hammer
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER, files_containing
from sigilforge.testing.signin import sign_in, stored_tokens, write_provider


def _works(server: AuthServer, token: str) -> bool:
    answer = httpx2.get(f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code == 200


def _wait_until_expired(tokens: TokenSet) -> None:
    assert tokens.expires_at is not None
    time.sleep(max(0.0, tokens.expires_at - time.time()) + 0.2)


@pytest.fixture
def short_lived(home: Home, auth_server: AuthServer) -> AuthServer:
    auth_server.token_lifetime = 5
    write_provider(home, auth_server)
    return auth_server


@pytest.mark.slow
def test_five_second_tokens_rotate(short_lived: AuthServer, run_cli: RunCli) -> None:
    broker = Broker.open()
    sign_in(broker, "alice")
    first = stored_tokens()
    assert first.expires_at is not None
    assert first.expires_at - time.time() <= 5

    # Within the lifetime and before the margin: the same token, and no request.
    assert run_cli("get-token", "corp", "alice").stdout.strip() == first.access_token
    _wait_until_expired(first)
    result = run_cli("get-token", "corp", "alice")
    assert result.returncode == 0, result.stderr
    second = result.stdout.strip()
    assert second != first.access_token
    assert _works(short_lived, second)

    stored = stored_tokens()
    assert stored.access_token == second
    assert stored.refresh_token != first.refresh_token
    assert short_lived.introspect(stored.refresh_token or "")
    # A token that lives seconds is still refreshed once per expiry, not once per call.
    for _ in range(3):
        assert run_cli("get-token", "corp", "alice").stdout.strip() == second
    assert short_lived.token_requests("refresh_token") == 1

    _wait_until_expired(stored)
    third = run_cli("get-token", "corp", "alice").stdout.strip()
    assert _works(short_lived, third)
    # Each refresh token was presented once: the rotated-out one never again.
    seen = short_lived.refresh_tokens_seen
    assert seen == [first.refresh_token, stored.refresh_token]
    broker.close()


@pytest.mark.slow
def test_one_refresh_for_100_callers_in_2_processes(
    home: Home, auth_server: AuthServer, tmp_path: Path
) -> None:
    auth_server.token_lifetime = 2
    write_provider(home, auth_server)
    broker = Broker.open()
    sign_in(broker, "alice")
    stale = stored_tokens()
    broker.close()
    _wait_until_expired(stale)

    tokens = hammer(home.env, tmp_path / "go")
    assert len(tokens) == 100
    assert len(set(tokens)) == 1, set(tokens)
    assert auth_server.token_requests("refresh_token") == 1
    assert _works(auth_server, tokens[0])


def test_invalid_grant_means_reauth(
    either_broker: Broker, corp: AuthServer, run_cli: RunCli
) -> None:
    sign_in(either_broker, "alice")
    before = stored_tokens()
    seen: list[Event] = []
    either_broker.subscribe(seen.append)
    corp.fail_next("invalid_grant")
    with pytest.raises(ReauthRequired) as raised:
        either_broker.refresh_token("corp", "alice")
    assert [type(e) for e in seen] == [events.ReauthRequired]
    assert MARKER not in repr(seen) + str(raised.value)
    assert either_broker.get_account("corp", "alice").status is AccountStatus.REAUTH_REQUIRED
    # The tokens are kept (a later sign-in replaces them; revocation can still use them).
    assert stored_tokens() == before
    result = run_cli("get-token", "corp", "alice")
    assert result.returncode == 5
    assert "sign in again" in result.stderr
    listed = json.loads(run_cli("list-accounts", "--json").stdout)
    assert listed[0]["status"] == "reauth_required"

    # Adding the account again is how the user recovers.
    sign_in(either_broker, "alice")
    assert either_broker.get_account("corp", "alice").status is AccountStatus.OK
    assert _works(corp, run_cli("get-token", "corp", "alice").stdout.strip())


def test_reused_refresh_token_after_a_lost_answer_is_clean_reauth(
    either_broker: Broker, corp: AuthServer
) -> None:
    sign_in(either_broker, "alice")
    stolen = stored_tokens()
    # Someone else (an attacker with a copy) refreshes first; ours is now rotated out,
    # and presenting it again ends the grant at the server.
    answer = httpx2.post(
        f"{corp.issuer}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": stolen.refresh_token,
            "client_id": corp.client_id,
        },
    )
    assert answer.status_code == 200
    with pytest.raises(ReauthRequired, match="refused the refresh token"):
        either_broker.refresh_token("corp", "alice")
    assert either_broker.get_account("corp", "alice").status is AccountStatus.REAUTH_REQUIRED
    # A later call says why, not a bare "sign in again".
    with pytest.raises(ReauthRequired, match="refused the refresh token"):
        either_broker.get_token("corp", "alice")


@pytest.mark.parametrize("failure", ["503", "html", "junk"])
def test_temporary_failures_keep_the_tokens(
    broker: Broker, corp: AuthServer, run_cli: RunCli, failure: str
) -> None:
    sign_in(broker, "alice")
    before = stored_tokens()
    corp.fail_next(failure, count=3)  # the first call and both of its retries
    result = run_cli("-vv", "refresh-token", "corp", "alice")
    assert result.returncode == 6, result.stderr
    assert MARKER not in result.stderr
    assert stored_tokens() == before
    assert broker.get_account("corp", "alice").status is AccountStatus.OK
    assert corp.token_requests("refresh_token") == 3
    # The provider is back: a later call succeeds with a new token.
    after = run_cli("refresh-token", "corp", "alice")
    assert after.returncode == 0, after.stderr
    assert _works(corp, after.stdout.strip())
    assert after.stdout.strip() != before.access_token


@pytest.mark.slow
def test_expired_token_and_a_hanging_provider_is_a_timeout(
    home: Home, auth_server: AuthServer, run_cli: RunCli
) -> None:
    auth_server.token_lifetime = 1
    write_provider(home, auth_server, http_timeout_secs=0.5)
    broker = Broker.open()
    sign_in(broker, "alice")
    before = stored_tokens()
    _wait_until_expired(before)
    auth_server.fail_next("hang", count=3, delay=1.0)
    result = run_cli("get-token", "corp", "alice")
    assert result.returncode == 6
    assert "did not answer" in result.stderr
    assert stored_tokens() == before
    time.sleep(1.0)  # let the server's stalled handlers finish
    later = run_cli("get-token", "corp", "alice")
    assert later.returncode == 0, later.stderr
    assert _works(auth_server, later.stdout.strip())
    broker.close()


def test_due_token_kept_while_provider_is_down(broker: Broker, corp: AuthServer) -> None:
    # Due (inside the margin) but not expired: a valid token beats an error. The broker's
    # clock is moved to just inside the margin rather than waiting an hour.
    sign_in(broker, "alice")
    before = stored_tokens()
    assert before.expires_at is not None
    offset = [0.0]
    shifted = Broker(
        accounts=AccountStore(paths.accounts_file()),
        secrets=open_store(),
        config=Config.load(paths.config_file()),
        lock_dir=paths.runtime_dir() / "locks",
        providers_file=paths.providers_file(),
        clock=lambda: time.time() + offset[0],
    )
    offset[0] = before.expires_at - time.time() - 60
    corp.fail_next("503", count=3)
    assert shifted.get_token("corp", "alice").token == before.access_token
    assert corp.token_requests("refresh_token") == 3
    # Once it has expired, the failure is the caller's to see.
    offset[0] = before.expires_at - time.time() + 1
    corp.fail_next("503", count=3)
    with pytest.raises(ProviderError):
        shifted.get_token("corp", "alice")
    assert stored_tokens() == before
    shifted.close()


def test_missing_refresh_token_in_answer_keeps_the_old_one(
    either_broker: Broker, corp: AuthServer
) -> None:
    corp.rotate = False
    sign_in(either_broker, "alice")
    before = stored_tokens()
    seen: list[Event] = []
    either_broker.subscribe(seen.append)
    fresh = either_broker.refresh_token("corp", "alice")
    after = stored_tokens()
    assert fresh.token == after.access_token != before.access_token
    assert after.refresh_token == before.refresh_token
    assert after.expires_at is not None
    assert seen == [TokenRefreshed("corp", "alice", after.expires_at)]
    # Served from memory now: the same token, no other request.
    assert either_broker.get_token("corp", "alice").token == fresh.token
    assert corp.token_requests("refresh_token") == 1


@pytest.mark.slow
def test_proactive_refresh_for_the_daemon(home: Home, auth_server: AuthServer) -> None:
    auth_server.token_lifetime = 3
    write_provider(home, auth_server)
    broker = Broker.open()
    sign_in(broker, "alice")
    tokens = stored_tokens()
    assert tokens.expires_at is not None
    due = broker.next_refresh_at()
    assert due is not None
    # Ahead of expiry, by a margin that is a fraction of the lifetime.
    assert tokens.expires_at - 1 < due < tokens.expires_at
    events: list[Event] = []
    broker.subscribe(events.append)
    assert broker.refresh_due() == []  # nothing is due yet
    time.sleep(max(0.0, due - time.time()) + 0.05)
    assert broker.refresh_due() == [("corp", "alice")]
    assert [type(e) for e in events] == [TokenRefreshed]
    refreshed = stored_tokens()
    assert isinstance(events[0], TokenRefreshed)
    assert events[0].expires_at == refreshed.expires_at
    next_due = broker.next_refresh_at()
    assert next_due is not None
    assert next_due > due

    # A temporary failure backs off instead of hammering the provider.
    time.sleep(max(0.0, next_due - time.time()) + 0.05)
    auth_server.fail_next("503", count=3)
    assert broker.refresh_due() == []
    backed_off = broker.next_refresh_at()
    assert backed_off is not None
    assert backed_off > time.time() + 10
    broker.close()


def test_remove_account_revokes_at_the_provider(
    broker: Broker, corp: AuthServer, run_cli: RunCli
) -> None:
    sign_in(broker, "alice")
    tokens = stored_tokens()
    assert corp.introspect(tokens.refresh_token or "")
    result = run_cli("remove-account", "corp", "alice")
    assert result.returncode == 0, result.stderr
    assert "revoked at the provider" in result.stderr
    assert not corp.introspect(tokens.refresh_token or "")
    assert not _works(corp, tokens.access_token)


def test_remove_account_when_revocation_fails(home: Home, run_cli: RunCli) -> None:
    with AuthServer(token_prefix=MARKER) as server:
        write_provider(home, server)
        broker = Broker.open()
        sign_in(broker, "alice")
        # Discovery is cached per process; the CLI process discovers anew.
        broker.close()
        server._failures.clear()
        issuer = server.issuer
    # The server is gone: revocation fails, the account is removed anyway, and it says so.
    result = run_cli("remove-account", "corp", "alice")
    assert result.returncode == 0, result.stderr
    assert "removed locally" in result.stderr
    assert issuer not in result.stdout
    assert run_cli("list-accounts", "--json").stdout.strip() == "[]"


def test_no_secret_in_files_or_output(
    broker: Broker, corp: AuthServer, run_cli: RunCli, home: Home
) -> None:
    sign_in(broker, "alice")
    outputs = [
        run_cli("-vv", "list-accounts"),
        run_cli("-vv", "list-accounts", "--json"),
        run_cli("-vv", "refresh-token", "corp", "alice"),
    ]
    corp.fail_next("invalid_grant")
    outputs.append(run_cli("-vv", "refresh-token", "corp", "alice"))
    assert all(MARKER not in o.stderr for o in outputs)
    assert MARKER not in outputs[0].stdout + outputs[1].stdout
    assert files_containing(home.root, MARKER) == []


@pytest.mark.slow
def test_background_refresh_emits_token_refreshed(home: Home, auth_server: AuthServer) -> None:
    auth_server.token_lifetime = 3
    write_provider(home, auth_server)
    broker = Broker.open()
    refreshed = threading.Event()
    seen: list[Event] = []

    def listen(event: Event) -> None:
        seen.append(event)
        if isinstance(event, TokenRefreshed):
            refreshed.set()

    broker.subscribe(listen)
    stop = start_refresh_timer(broker, max_sleep=1.0)
    try:
        # Added after the loop started: the new account wakes it.
        sign_in(broker, "alice")
        first = stored_tokens()
        assert refreshed.wait(6)
    finally:
        stop()
    after = stored_tokens()
    assert after.access_token != first.access_token
    assert auth_server.token_requests("refresh_token") >= 1
    # Nobody asked for a token: the refresh happened before expiry, on the timer.
    assert first.expires_at is not None
    assert after.obtained_at is not None
    assert after.obtained_at <= first.expires_at
    broker.close()


def test_429_retry_after_is_honoured(either_broker: Broker, corp: AuthServer) -> None:
    sign_in(either_broker, "alice")
    corp.fail_next("429", count=5)
    with pytest.raises(ProviderError) as first:
        either_broker.refresh_token("corp", "alice")
    assert first.value.transient
    assert first.value.retry_after == 120
    # No request before Retry-After has passed: not in the same call, not in the next.
    assert corp.token_requests("refresh_token") == 1
    with pytest.raises(ProviderError):
        either_broker.refresh_token("corp", "alice")
    assert corp.token_requests("refresh_token") == 1


def test_provider_text_never_reaches_the_signal_and_is_redacted_in_errors(
    either_broker: Broker, corp: AuthServer
) -> None:
    sign_in(either_broker, "alice")
    seen: list[Event] = []
    either_broker.subscribe(seen.append)
    corp.fail_next("invalid_grant")
    with pytest.raises(ReauthRequired):
        either_broker.refresh_token("corp", "alice")
    assert [type(e) for e in seen] == [events.ReauthRequired]
    # The broker's own phrase; "grant revoked" is the provider's text.
    assert "grant revoked" not in repr(seen)
    # A description quoting most of a token (not an exact copy) is redacted in errors.
    refresh_token = "rt-" + "Zq8x" * 12
    quoted = refresh_token[:-5]
    reply = Reply(
        400,
        "application/json",
        json.dumps({"error": "invalid_request", "error_description": f"bad {quoted}"}).encode(),
    )
    error = oauth_error(reply, what="token endpoint", secrets=(refresh_token,))
    assert error is not None
    assert quoted[:16] not in error.message
    assert "bad" in error.message


def test_the_rig_ignores_a_token_another_server_issued() -> None:
    """A process left from an earlier test may still refresh against a port that a new
    AuthServer now holds; the rig must neither count it nor hand it a queued failure, or
    a later test's counts are off (a full run under load once failed that way)."""
    with AuthServer() as earlier, AuthServer() as ours:
        ours.fail_next("503")

        def refresh(token: str) -> httpx2.Response:
            form = {"grant_type": "refresh_token", "refresh_token": token}
            return httpx2.post(f"{ours.issuer}/token", data={**form, "client_id": ours.client_id})

        stray = refresh(earlier.issue_grant()["refresh_token"])
        assert (stray.status_code, stray.json()["error"]) == (400, "invalid_grant")
        assert (ours.token_requests(), ours.strays) == (0, 1)
        # The failure queued for this server's own clients is still there for them.
        assert refresh(ours.issue_grant()["refresh_token"]).status_code == 503
        assert ours.token_requests("refresh_token") == 1
