"""TokenManager on its own: an in-memory secret store, a scripted refresher standing in
for the OAuth layer, and a clock the test moves. What a caller would notice: when a
token is renewed, that concurrent callers share one renewal, that a rotation never loses
the refresh token, which failures keep the old token and which end in an error, and
what the daemon's proactive refresh reports."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sigilforge import events
from sigilforge.accounts import AccountStore
from sigilforge.errors import ProviderError, ReauthRequired, RemoteError
from sigilforge.events import Event, EventHub, TokenRefreshed
from sigilforge.model import Account, AccountKind, AccountStatus, TokenSet
from sigilforge.oauth.errors import InvalidGrantError, oauth_error_class
from sigilforge.store.base import SecretKey, SecretKind
from sigilforge.store.memory import MemoryStore
from sigilforge.tokens import TokenManager, read_token_set

T0 = 1_000_000.0
LIFETIME = 100  # so the margin is 10 s: due at T0 + 90


class ScriptedRefresher:
    """Answers each refresh with the next scripted outcome: a token set or an error."""

    def __init__(self) -> None:
        self.outcomes: list[TokenSet | Exception] = []
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def refresh(self, account: Account, tokens: TokenSet) -> TokenSet:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(10)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.now = T0
        self.accounts = AccountStore(tmp_path / "accounts.json")
        self.secrets = MemoryStore()
        self.events: list[Event] = []
        hub = EventHub()
        hub.subscribe(self.events.append)
        self.refresher = ScriptedRefresher()
        self.tokens = TokenManager(
            self.accounts,
            self.secrets,
            events=hub,
            lock_dir=tmp_path,
            refresher=lambda: self.refresher,
            clock=lambda: self.now,
        )
        self.account = self.accounts.add(
            Account("corp", "alice", AccountKind.OAUTH2, provider="corp", created_at=int(T0))
        )
        self.tokens.store_tokens(self.account, self.grant("a0", "r0"))

    def grant(self, access: str, refresh: str | None) -> TokenSet:
        obtained = int(self.now)
        return TokenSet(access, refresh, expires_at=obtained + LIFETIME, obtained_at=obtained)

    def get(self) -> str:
        return self.tokens.ensure_access_token("corp", "alice").token

    def stored(self) -> TokenSet:
        tokens = read_token_set(self.secrets, "corp", "alice")
        assert tokens is not None
        return tokens


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_a_token_is_renewed_only_once_inside_its_margin(rig: Rig) -> None:
    rig.now = T0 + 89
    assert rig.get() == "a0"
    assert rig.refresher.calls == 0
    rig.now = T0 + 91
    rig.refresher.outcomes = [rig.grant("a1", "r1")]
    assert rig.get() == "a1"
    assert rig.get() == "a1"
    assert rig.refresher.calls == 1
    assert [type(e) for e in rig.events] == [TokenRefreshed]


def test_concurrent_callers_share_one_refresh(rig: Rig) -> None:
    rig.now = T0 + 95
    rig.refresher.outcomes = [rig.grant("a1", "r1")]
    rig.refresher.release.clear()
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(rig.get())) for _ in range(8)]
    for t in threads:
        t.start()
    assert rig.refresher.entered.wait(10)
    rig.refresher.release.set()
    for t in threads:
        t.join(10)
    assert got == ["a1"] * 8
    assert rig.refresher.calls == 1


def test_a_rotation_without_a_refresh_token_keeps_the_old_one(rig: Rig) -> None:
    rig.now = T0 + 95
    rig.refresher.outcomes = [rig.grant("a1", None)]
    assert rig.get() == "a1"
    assert rig.stored().refresh_token == "r0"


def test_a_temporary_failure_keeps_a_still_valid_token(rig: Rig) -> None:
    rig.now = T0 + 95  # due, not yet expired
    rig.refresher.outcomes = [ProviderError("HTTP 503"), oauth_error_class("server_error")()]
    rig.refresher.outcomes.append(ProviderError("HTTP 429"))
    assert rig.get() == "a0"
    assert rig.refresher.calls == 3  # retried, then the old token served
    assert rig.stored().access_token == "a0"


def test_a_final_provider_answer_is_raised_at_once(rig: Rig) -> None:
    rig.now = T0 + 95
    rig.refresher.outcomes = [oauth_error_class("invalid_scope")("token endpoint: invalid_scope")]
    with pytest.raises(ProviderError) as raised:
        rig.get()
    assert isinstance(raised.value, RemoteError)
    assert not raised.value.transient
    assert rig.refresher.calls == 1
    assert rig.stored().access_token == "a0"


def test_a_revoked_grant_marks_the_account_and_keeps_the_tokens(rig: Rig) -> None:
    rig.now = T0 + 95
    rig.refresher.outcomes = [ReauthRequired("refused")]
    with pytest.raises(ReauthRequired):
        rig.get()
    assert rig.accounts.get("corp", "alice").status is AccountStatus.REAUTH_REQUIRED
    assert [type(e) for e in rig.events] == [events.ReauthRequired]
    assert rig.stored().refresh_token == "r0"
    with pytest.raises(ReauthRequired):
        rig.get()
    assert rig.refresher.calls == 1


def test_proactive_refresh_reports_what_it_renewed(rig: Rig) -> None:
    assert rig.tokens.next_refresh_at() == T0 + 90
    assert rig.tokens.refresh_due() == []  # nothing due yet
    rig.now = T0 + 90
    rig.refresher.outcomes = [rig.grant("a1", "r1")]
    assert rig.tokens.refresh_due() == [("corp", "alice")]
    assert rig.stored().access_token == "a1"


def test_proactive_refresh_backs_off_after_a_temporary_failure(rig: Rig) -> None:
    rig.now = T0 + 95
    rig.refresher.outcomes = [ProviderError("HTTP 503")] * 3
    assert rig.tokens.refresh_due() == []  # the old token was kept: not a refresh
    first_retry = rig.tokens.next_refresh_at()
    assert first_retry is not None
    assert first_retry > rig.now
    rig.now = first_retry
    rig.refresher.outcomes = [ProviderError("HTTP 503")] * 3
    assert rig.tokens.refresh_due() == []
    second_retry = rig.tokens.next_refresh_at()
    assert second_retry is not None
    # Doubling: the second wait is longer than the first.
    assert second_retry - first_retry > first_retry - (T0 + 95)


def test_an_api_key_is_served_from_the_store(rig: Rig) -> None:
    acc = rig.accounts.add(Account("openai", "work", AccountKind.API_KEY))
    rig.tokens.store_api_key(acc, "sk-1")
    assert rig.secrets.get(SecretKey.for_account("openai", "work", SecretKind.API_KEY)) == "sk-1"
    got = rig.tokens.ensure_access_token("openai", "work")
    assert (got.token, got.expires_at) == ("sk-1", None)


def test_invalid_grant_is_an_oauth_class_not_a_string() -> None:
    # The OAuth layer's classification is what the core reads (transient), per class.
    def transient(code: str) -> bool:
        return oauth_error_class(code)().transient

    assert all(transient(c) for c in ("server_error", "temporarily_unavailable", "slow_down"))
    assert not any(transient(c) for c in ("invalid_scope", "invalid_grant", "access_denied"))
    assert oauth_error_class("invalid_grant") is InvalidGrantError


class RotatedElsewhere(ScriptedRefresher):
    """Another process (not sharing our lock) rotates the grant while our request is on
    the way: the provider refuses our now rotated-out token."""

    def __init__(self, rig: Rig, newer: TokenSet) -> None:
        super().__init__()
        self.rig = rig
        self.newer = newer

    def refresh(self, account: Account, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token == "r0":
            self.rig.tokens.store_tokens(self.rig.account, self.newer)
            self.calls += 1
            raise ReauthRequired("the provider refused the refresh token (invalid_grant)")
        return super().refresh(account, tokens)


def test_invalid_grant_after_a_rotation_elsewhere_takes_the_newer_tokens(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    rig.now = T0 + 95
    rig.refresher = RotatedElsewhere(rig, rig.grant("a1", "r1"))
    assert rig.get() == "a1"
    assert rig.stored().refresh_token == "r1"
    assert rig.accounts.get("corp", "alice").status is AccountStatus.OK


def test_invalid_grant_after_a_rotation_elsewhere_retries_once_with_the_newer_token(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    rig.now = T0 + 95
    # The other process's token set is itself already due: refresh once with it.
    rig.refresher = RotatedElsewhere(
        rig, TokenSet("a1", "r1", expires_at=int(T0 + 96), obtained_at=int(T0))
    )
    rig.refresher.outcomes.append(rig.grant("a2", "r2"))
    assert rig.get() == "a2"
    assert rig.stored().refresh_token == "r2"
    assert rig.refresher.calls == 2


def test_invalid_grant_for_the_current_token_still_means_reauth(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.now = T0 + 95
    rig.refresher.outcomes.append(ReauthRequired("the provider refused the refresh token"))
    with pytest.raises(ReauthRequired):
        rig.get()
    assert rig.accounts.get("corp", "alice").status is AccountStatus.REAUTH_REQUIRED
    assert rig.stored().refresh_token == "r0"
