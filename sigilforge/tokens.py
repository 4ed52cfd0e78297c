"""TokenManager: hands out valid access tokens and API keys, refreshing when due.

Rules it keeps (DESIGN section 5):

- A token is refreshed ahead of expiry by a margin that scales with its lifetime, so a
  token that lives seconds is still refreshed once per lifetime, not once per call.
- Concurrent callers share one refresh: a per-account thread lock in this process and a
  file lock across processes; whoever gets the lock second re-reads the store and takes
  the token the first one produced.
- A new token set is saved and read back before any caller sees the new access token; a
  response without a refresh token keeps the old one.
- A revoked grant (``ReauthRequired`` from the refresher) marks the account
  ``reauth_required`` (tokens kept) and emits the ``ReauthRequired`` event; a failure the OAuth
  layer calls ``transient`` keeps the tokens and is retried with backoff; any other
  is raised as it came.
- Reads are served from memory while ``accounts.json`` is unchanged; any account change,
  in this process or another, invalidates the cache (a ``stat`` per call, or, once a
  process reads twice, an inotify watch that says when to stat: ``_filewatch``).
- For the daemon: ``next_refresh_at`` says (in wall-clock Unix time) when the next token
  falls due, ``refresh_due`` refreshes what is due; an account whose refresh failed for
  a temporary reason is retried later with exponential backoff.
- Also for the daemon (``isolated``): each refresh transaction runs in a child process
  (``sigilforge.isolated_refresh``), which does exactly the in-process refresh below and
  reports back; this manager applies the report (cache, events, re-auth reasons,
  Retry-After, a token set the store refused) as if it had refreshed itself. A killed
  daemon then never holds the only copy of a rotated refresh token. A refresh of a token
  set that lives only in memory (the store refused it) stays in-process: no other
  process has it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from sigilforge import events, paths
from sigilforge._filewatch import WatchedVersion
from sigilforge.accounts import AccountStore
from sigilforge.errors import (
    InvalidArgument,
    NetworkError,
    NoSuchAccount,
    ProviderError,
    ReauthRequired,
    RemoteError,
    SigilforgeError,
    StoreError,
    StoreUnavailable,
    Timeout,
)
from sigilforge.events import EventHub
from sigilforge.filelock import locked
from sigilforge.model import AccessToken, Account, AccountKind, AccountStatus, TokenSet
from sigilforge.refresh_guard import InFlight, deferred_signals, fault_pause
from sigilforge.store.base import SecretKey, SecretKind, SecretStore

if TYPE_CHECKING:
    # Loaded with the first refresh that runs in a child process (the daemon's): a
    # daemon whose first calls refresh nothing never imports the child's codec.
    from sigilforge.isolated_refresh import RefreshReport, RefreshRequest

__all__ = [
    "RefreshElsewhere",
    "Refreshed",
    "Refresher",
    "TokenManager",
    "due_at",
    "fingerprint",
    "read_token_set",
    "refresh_margin",
    "refresh_time_limit",
]

log = logging.getLogger(__name__)

# Bounds for the refresh margin, in seconds.
_MARGIN_FRACTION = 0.1
_MARGIN_MAX = 300.0
# Transient refresh failures are retried inside one call this many times, with backoff.
_RETRY_DELAYS = (0.25, 1.0)
# Between proactive attempts after a temporary failure: doubling, from..to seconds.
_BACKOFF_FIRST = 15.0
_BACKOFF_MAX = 600.0
# Longer than one refresh's HTTP time limits, so a waiter outlasts the refresher.
_LOCK_WAIT = 60.0
# HTTP requests one refresh attempt may make (endpoint discovery, the token request).
_REQUESTS_PER_ATTEMPT = 2
# Start-up, the store's round trips, a test's fault pause: on top of lock wait and HTTP.
_SLACK = 45.0


def refresh_time_limit(http_timeout: float) -> float:
    """The longest one refresh transaction can take: the lock wait, every attempt's
    HTTP deadlines and the backoff between them, and some slack."""
    attempts = len(_RETRY_DELAYS) + 1
    return (
        _LOCK_WAIT + attempts * _REQUESTS_PER_ATTEMPT * http_timeout + sum(_RETRY_DELAYS) + _SLACK
    )


def fingerprint(tokens: TokenSet) -> str:
    """A short digest of the access token: enough to tell two token sets apart, and
    nothing to learn the token from (it goes into another process's argv)."""
    return hashlib.sha256(tokens.access_token.encode()).hexdigest()[:16]


def refresh_margin(lifetime: float | None) -> float:
    """How long before expiry a token counts as due: 10% of its lifetime, at most 5 min.

    Always well under the lifetime, so a token that lives five seconds is refreshed once
    in those five seconds (half a second ahead), not on every call."""
    if lifetime is None or lifetime <= 0:
        return 60.0
    return min(_MARGIN_MAX, lifetime * _MARGIN_FRACTION)


def due_at(tokens: TokenSet) -> float | None:
    """When ``tokens`` fall due for refresh (Unix time); None if they never expire."""
    if tokens.expires_at is None:
        return None
    lifetime = tokens.expires_at - tokens.obtained_at if tokens.obtained_at else None
    return tokens.expires_at - refresh_margin(lifetime)


_Key = tuple[str, str]


class _CacheEntry(NamedTuple):
    """What a read found, valid while ``accounts.json`` keeps ``version``; what a cached
    call hands out and when that falls due, worked out once (``_entry``), not per call."""

    version: tuple[int, int, int]
    value: TokenSet | str  # a token set, or an API key
    access: AccessToken
    due: float | None


def _entry(version: tuple[int, int, int], value: TokenSet | str) -> _CacheEntry:
    if isinstance(value, str):
        return _CacheEntry(version, value, AccessToken(value, None), None)
    return _CacheEntry(version, value, value.access(), due_at(value))


class _Backoff(NamedTuple):
    """An account whose proactive refresh failed for a temporary reason."""

    retry_at: float
    failures: int


class Refreshed(NamedTuple):
    """What ``_refresh`` hands out, and whether the store now holds a newer grant than
    the one the caller found due (refreshed here, or by another thread or process)."""

    token: AccessToken
    refreshed: bool


class Refresher(Protocol):
    """Trades a refresh token for a new token set (the OAuth layer implements it).

    Raises ``ReauthRequired`` when the grant is gone and a ``RemoteError`` otherwise,
    whose ``transient`` says whether trying again later may succeed.
    """

    def refresh(self, account: Account, tokens: TokenSet) -> TokenSet: ...


class RefreshElsewhere(Protocol):
    """Runs a refresh transaction in another process (``isolated_refresh.ChildRefresh``)."""

    def run(self, request: RefreshRequest) -> RefreshReport: ...

    def close(self) -> None: ...


def read_token_set(secrets: SecretStore, service: str, account: str) -> TokenSet | None:
    """The token set stored for an account, as it is; None if there is none."""
    raw = secrets.get(SecretKey.for_account(service, account, SecretKind.TOKEN_SET))
    return None if raw is None else TokenSet.from_json(raw)


class TokenManager:
    def __init__(
        self,
        accounts: AccountStore,
        secrets: SecretStore,
        *,
        events: EventHub,
        lock_dir: Path | None = None,
        refresher: Callable[[], Refresher] | None = None,
        clock: Callable[[], float] = time.time,
        keep_unsaved: bool = False,
        isolated: RefreshElsewhere | None = None,
    ) -> None:
        self._accounts = accounts
        self._secrets = secrets
        self._events = events
        # One lock per account for every process sharing these accounts (DESIGN 4).
        self._lock_dir = lock_dir or paths.refresh_lock_dir(accounts.path)
        self._refresher_factory = refresher
        self._refresher: Refresher | None = None
        self._clock = clock
        self._cache: dict[_Key, _CacheEntry] = {}
        # accounts.json's version for ``cached_access_token``; made on its first use.
        self._accounts_version: WatchedVersion[tuple[int, int, int]] | None = None
        self._locks: dict[_Key, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._backoff: dict[_Key, _Backoff] = {}
        # A long-lived process (the daemon) keeps a token set the store refused (locked)
        # in memory, serves it and saves it as soon as the store takes it; a short one
        # cannot outlive the refusal, so it says a new sign-in will be needed.
        self._keep_unsaved = keep_unsaved
        self._unsaved: dict[_Key, TokenSet] = {}
        # Until when (clock) a provider's Retry-After forbids another refresh request.
        self._not_before: dict[_Key, float] = {}
        # Why an account was marked for re-auth here: a later call says the same, not a
        # bare "sign in again" (the refresh timer may be the one that found out).
        self._reauth_reasons: dict[_Key, str] = {}
        # The daemon refreshes in child processes (``sigilforge.isolated_refresh``).
        self._isolated = isolated

    def close(self) -> None:
        """Threads waiting on a refresh in a child process stop waiting (it goes on)."""
        if self._isolated is not None:
            self._isolated.close()

    # -- reading -----------------------------------------------------------------------

    def cached_access_token(self, service: str, account: str) -> AccessToken | None:
        """A token from memory if one is valid now, else None. Never blocks on I/O
        beyond one ``stat``."""
        if (service, account) not in self._cache:
            return None
        self._accounts_watch()()  # a look now: the peek below gives what it saw
        hit = self.peek_access_token(service, account)
        return None if hit is None else hit[0]

    def peek_access_token(self, service: str, account: str) -> tuple[AccessToken, int] | None:
        """``cached_access_token`` as of the last look at ``accounts.json``, with no system
        call, and that look's epoch: the token may answer a request only once
        ``accounts_unchanged_since(epoch)``, asked after the request was received, says
        True (``WatchedVersion.peek``). The daemon answers from here on its event loop."""
        entry = self._cache.get((service, account))
        if entry is None:
            return None
        version, epoch = (self._accounts_version or self._accounts_watch()).peek()
        if entry.version != version:
            return None
        due = entry.due
        if due is not None and due <= self._clock():
            return None
        return entry.access, epoch

    def accounts_unchanged_since(self, epoch: int) -> bool:
        return self._accounts_watch().unchanged_since(epoch)

    def _accounts_watch(self) -> WatchedVersion[tuple[int, int, int]]:
        watched = self._accounts_version
        if watched is None:
            # A process that reads twice lives long enough for a watch to pay: from here
            # on the kernel says when accounts.json changed, instead of a stat per call.
            watched = self._accounts_version = WatchedVersion(
                self._accounts.path, self._accounts.version
            )
        return watched

    def ensure_access_token(self, service: str, account: str) -> AccessToken:
        cached = self.cached_access_token(service, account)
        if cached is not None:
            return cached
        acc = self._accounts.get(service, account)
        if acc.kind is AccountKind.API_KEY:
            return AccessToken(self.api_key(acc), None)
        tokens = self._load_tokens(acc)
        if acc.key not in self._unsaved and InFlight(self._lock_path(acc)).exists():
            # A refresh was cut short (SIGKILL, power loss, a store that refused): find
            # out now whether the stored refresh token survived, rather than serve on.
            return self._refresh(acc, stale=fingerprint(tokens), forced=False).token
        if not self._is_due(tokens):
            return tokens.access()
        return self._refresh(acc, stale=fingerprint(tokens), forced=False).token

    def force_refresh(self, service: str, account: str) -> AccessToken:
        acc = self._accounts.get(service, account)
        if acc.kind is not AccountKind.OAUTH2:
            raise InvalidArgument(f"{service}/{account} holds an API key; nothing to refresh")
        return self._refresh(acc, stale=fingerprint(self._load_tokens(acc)), forced=True).token

    def api_key(self, acc: Account) -> str:
        version = self._accounts.version()
        value = self._secrets.get(_key(acc, SecretKind.API_KEY))
        if value is None:
            raise NoSuchAccount(f"{acc.service}/{acc.account} has no API key in the store")
        self._cache[acc.key] = _entry(version, value)
        return value

    def stored_tokens(self, acc: Account) -> TokenSet | None:
        """The stored token set as it is, whatever the account's status (for revocation)."""
        return read_token_set(self._secrets, acc.service, acc.account)

    def _load_tokens(self, acc: Account) -> TokenSet:
        if acc.status is AccountStatus.REAUTH_REQUIRED:
            reason = self._reauth_reasons.get(acc.key)
            raise ReauthRequired(
                f"{acc.service}/{acc.account}: {reason}"
                if reason
                else f"{acc.service}/{acc.account} needs to sign in again"
            )
        version = self._accounts.version()
        unsaved = self._unsaved.get(acc.key)
        if unsaved is not None and not self._save_unsaved(acc, unsaved):
            self._cache[acc.key] = _entry(version, unsaved)
            return unsaved
        raw = self._secrets.get(_key(acc, SecretKind.TOKEN_SET))
        if raw is None:
            raise ReauthRequired(f"{acc.service}/{acc.account} has no tokens in the store")
        tokens = TokenSet.from_json(raw)
        self._cache[acc.key] = _entry(version, tokens)
        return tokens

    def _is_due(self, tokens: TokenSet) -> bool:
        when = due_at(tokens)
        return when is not None and when <= self._clock()

    def _is_expired(self, tokens: TokenSet) -> bool:
        return tokens.expires_at is not None and tokens.expires_at <= self._clock()

    # -- writing -----------------------------------------------------------------------

    def store_tokens(self, acc: Account, tokens: TokenSet) -> None:
        """Save a token set and read it back; raises unless the store holds exactly it."""
        key = _key(acc, SecretKind.TOKEN_SET)
        text = tokens.to_json()
        self._secrets.set(key, text)
        if self._secrets.get(key) != text:
            raise StoreUnavailable("the secret store did not keep the new tokens")

    def store_api_key(self, acc: Account, value: str) -> None:
        self._secrets.set(_key(acc, SecretKind.API_KEY), value)

    def forget(self, service: str, account: str) -> None:
        self._cache.pop((service, account), None)

    def _lock_for(self, key: _Key) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _refresh(self, acc: Account, *, stale: str, forced: bool) -> Refreshed:
        """Refresh ``acc`` unless someone did since its access token was ``stale`` (a
        ``fingerprint``)."""
        key = acc.key
        wait = _LOCK_WAIT
        if not self._lock_for(key).acquire(timeout=wait):
            raise Timeout(f"timed out waiting for a refresh of {acc.service}/{acc.account}")
        try:
            produced = self._cache.get(key)
            if produced is not None and isinstance(produced.value, TokenSet):
                fresh = produced.value
                if fingerprint(fresh) != stale:
                    # A thread of ours refreshed while we waited: take what it produced.
                    return Refreshed(fresh.access(), refreshed=True)
            if self._isolated is not None and key not in self._unsaved:
                return self._refresh_in_child(acc, stale=stale, forced=forced)
            lock_path = self._lock_path(acc)
            with locked(lock_path, timeout=wait):
                acc = self._accounts.get(*key)
                current = self._load_tokens(acc)
                if key not in self._unsaved and InFlight(lock_path).exists():
                    # Found under the lock, so its refresh is over and never saved.
                    return self._refresh_locked(acc, current, forced=True, interrupted=True)
                if fingerprint(current) != stale:
                    # Another process refreshed while we waited for the lock: take theirs
                    # (even if it is due again already: one refresh per expiry, not per call).
                    return Refreshed(current.access(), refreshed=True)
                if not forced and not self._is_due(current):
                    return Refreshed(current.access(), refreshed=False)
                return self._refresh_locked(acc, current, forced=forced)
        finally:
            self._lock_for(key).release()

    def _refresh_in_child(self, acc: Account, *, stale: str, forced: bool) -> Refreshed:
        """The transaction above (from the file lock on) in a child process; its report
        applied here as if this process had done the work."""
        from sigilforge.isolated_refresh import RefreshRequest

        assert self._isolated is not None
        key = acc.key
        wait = self._not_before.get(key, 0.0) - self._clock()
        request = RefreshRequest(
            acc.service,
            acc.account,
            forced=forced,
            stale=stale,
            wait=wait if wait > 0 else None,
            keep_unsaved=self._keep_unsaved,
        )
        try:
            report = self._isolated.run(request)
        except SigilforgeError:
            # It died or is still running: the provider may have rotated, so the next call
            # reads the store and the marker instead of serving what memory holds.
            self.forget(*key)
            raise
        if report.wait is not None:
            self._not_before[key] = self._clock() + report.wait
        if report.reauth is not None:
            self._reauth_reasons[key] = report.reauth
            self.forget(*key)
        if report.unsaved is not None:
            # The store refused it: this process now holds the only copy (DESIGN 5).
            self._unsaved[key] = report.unsaved
            self._cache[key] = _entry(self._accounts.version(), report.unsaved)
        try:
            if report.error is not None:
                raise report.error
            if report.unsaved is not None:
                return Refreshed(report.unsaved.access(), refreshed=True)
            if report.refreshed:
                self._backoff.pop(key, None)
            # What the child saved (or found), read back from the store into the cache
            # before anyone hears of it.
            current = self._load_tokens(self._accounts.get(*key))
            return Refreshed(current.access(), report.refreshed)
        finally:
            for event in report.events:
                self._events.emit(event)

    def report_refresh(self, request: RefreshRequest) -> RefreshReport:
        """The child's side of ``isolated``: refresh in-process as asked and say what
        happened, errors included, for the parent to apply."""
        from sigilforge.isolated_refresh import RefreshReport

        key = (request.service, request.account)
        if request.wait is not None:
            self._not_before[key] = self._clock() + request.wait
        seen: list[events.Event] = []
        unsubscribe = self._events.subscribe(seen.append)
        refreshed = False
        error: SigilforgeError | None = None
        try:
            acc = self._accounts.get(*key)
            refreshed = self._refresh(acc, stale=request.stale, forced=request.forced).refreshed
        except SigilforgeError as exc:
            error = exc
        finally:
            unsubscribe()
        wait = self._not_before.get(key, 0.0) - self._clock()
        return RefreshReport(
            refreshed=refreshed,
            events=tuple(seen),
            wait=wait if wait > 0 else None,
            reauth=self._reauth_reasons.get(key),
            unsaved=self._unsaved.get(key),
            error=error,
        )

    def has_unsaved(self) -> bool:
        """Whether a refreshed token set lives only in memory (the store refused it)."""
        return bool(self._unsaved)

    def save_unsaved(self) -> None:
        """Try to save every token set the store refused so far."""
        for key, tokens in list(self._unsaved.items()):
            acc = self._accounts.find(*key)
            if acc is None:
                self._unsaved.pop(key, None)
            else:
                self._save_unsaved(acc, tokens)

    def _save_unsaved(self, acc: Account, tokens: TokenSet) -> bool:
        """Try again to save a token set the store refused; True once it is saved."""
        try:
            with locked(self._lock_path(acc), timeout=_LOCK_WAIT):
                self.store_tokens(acc, tokens)
                InFlight(self._lock_path(acc)).clear()
        except StoreError:
            return False
        self._unsaved.pop(acc.key, None)
        log.info("saved the refreshed tokens of %s/%s", acc.service, acc.account)
        return True

    def _lock_path(self, acc: Account) -> Path:
        return self._lock_dir / f"{acc.service}~{acc.account}.lock"

    def _refresh_locked(
        self, acc: Account, current: TokenSet, *, forced: bool, interrupted: bool = False
    ) -> Refreshed:
        if not current.refresh_token:
            if not self._is_expired(current):
                return Refreshed(current.access(), refreshed=False)
            self._mark_reauth(acc, "the token expired and there is no refresh token")
        wait = self._not_before.get(acc.key, 0.0) - self._clock()
        if wait > 0:
            if not forced and not self._is_expired(current):
                return Refreshed(current.access(), refreshed=False)
            raise ProviderError(f"the provider asked to wait {wait:.0f} s; try again later")
        marker = InFlight(self._lock_path(acc))
        # From "request sent" to "saved and read back" the only live refresh token may be
        # in this process's memory: signals wait, and a marker says a refresh is in flight.
        with deferred_signals():
            marker.set()
            try:
                done = self._refresh_and_save(acc, current, forced=forced, interrupted=interrupted)
            except (StoreError, NetworkError, Timeout):
                raise  # the server may have rotated: the marker stays, to be verified
            except RemoteError as exc:
                if not exc.transient:
                    marker.clear()
                raise
            except SigilforgeError:
                marker.clear()
                raise
            if acc.key not in self._unsaved:
                marker.clear()
            return done

    def _refresh_and_save(
        self, acc: Account, current: TokenSet, *, forced: bool, interrupted: bool
    ) -> Refreshed:
        refresher = self._get_refresher()
        last_error: Exception | None = None
        retried_newer = False
        for delay in (*_RETRY_DELAYS, None):
            try:
                fresh = refresher.refresh(acc, current)
                break
            except ReauthRequired as exc:
                # Only a refusal of the refresh token the store holds now means re-auth:
                # if another process (one not sharing our lock) rotated meanwhile, its
                # newer token set is good; take it, or refresh with it once.
                newer = read_token_set(self._secrets, acc.service, acc.account)
                if retried_newer or newer is None or newer.refresh_token == current.refresh_token:
                    # The signal goes to every listener on the bus: a fixed phrase of ours,
                    # never the provider's text (the caller's error carries it, redacted).
                    if interrupted:
                        self._mark_reauth(acc, "a refresh was interrupted")
                    self._mark_reauth(acc, "the provider refused the refresh token", exc.message)
                assert newer is not None
                retried_newer = True
                current = newer
                if not forced and not self._is_due(current):
                    self._cache[acc.key] = _entry(self._accounts.version(), current)
                    return Refreshed(current.access(), refreshed=True)
            except RemoteError as exc:
                # The OAuth layer decided whether it is worth another try; a final answer
                # (an OAuth error code) is raised as it is.
                if not exc.transient:
                    raise
                last_error = exc
                if exc.retry_after is not None:
                    # The provider said when: no request before then, not even a retry.
                    self._not_before[acc.key] = self._clock() + exc.retry_after
                    delay = None
                if delay is None:
                    # Tokens are kept; one that is still valid is better than an error,
                    # unless the caller asked for a refresh by name.
                    if not forced and not self._is_expired(current):
                        return Refreshed(current.access(), refreshed=False)
                    raise
                time.sleep(delay)
        else:  # pragma: no cover - the loop always breaks or raises
            raise last_error or NetworkError()
        fault_pause("after-rotate")
        if not fresh.refresh_token:
            fresh = fresh.with_refresh_token(current.refresh_token)
        # Saved and read back before anyone sees the new access token: if the store does
        # not keep it, this raises and the new tokens are never handed out.
        try:
            self.store_tokens(acc, fresh)
        except StoreError as exc:
            if self._keep_unsaved:
                log.warning(
                    "the store refused the refreshed tokens of %s/%s (%s); kept in memory "
                    "until it takes them",
                    acc.service,
                    acc.account,
                    exc.code,
                )
                self._unsaved[acc.key] = fresh
                self._cache[acc.key] = _entry(self._accounts.version(), fresh)
                return Refreshed(fresh.access(), refreshed=True)
            # The provider has rotated; the marker stays so the loss is reported.
            raise type(exc)(
                f"{exc.message}; the refreshed tokens of {acc.service}/{acc.account} could "
                "not be saved, so a new sign-in will be needed"
            ) from None
        self._backoff.pop(acc.key, None)
        self._accounts.update(acc.service, acc.account, expires_at=fresh.expires_at)
        self._cache[acc.key] = _entry(self._accounts.version(), fresh)
        if fresh.expires_at is not None:
            self._events.emit(events.TokenRefreshed(acc.service, acc.account, fresh.expires_at))
        return Refreshed(fresh.access(), refreshed=True)

    # -- proactive refresh ------------------------------------------------------------------

    def next_refresh_at(self) -> float | None:
        """The earliest time (Unix, wall clock) an OAuth token falls due, counting the
        backoff of accounts whose last attempt failed; None if nothing will."""
        earliest: float | None = None
        for acc, tokens in self._refreshable():
            when = due_at(tokens)
            if when is None:
                continue
            retry = self._backoff.get(acc.key)
            if retry is not None:
                when = max(when, retry.retry_at)
            earliest = when if earliest is None else min(earliest, when)
        return earliest

    def refresh_due(self) -> list[_Key]:
        """Refresh every token due now; returns the accounts refreshed. Never raises for
        one account's failure: re-auth is reported by event, the rest backs off."""
        now = self._clock()
        done: list[_Key] = []
        for acc, tokens in self._refreshable():
            when = due_at(tokens)
            retry = self._backoff.get(acc.key)
            if when is None or when > now or (retry is not None and retry.retry_at > now):
                continue
            try:
                got = self._refresh(acc, stale=fingerprint(tokens), forced=False)
            except ReauthRequired:
                continue
            except SigilforgeError as exc:
                log.info("refresh of %s/%s failed: %s", acc.service, acc.account, exc.code)
                self._back_off(acc.key)
                continue
            if not got.refreshed:
                # Kept the old token after a temporary failure.
                self._back_off(acc.key)
                continue
            done.append(acc.key)
        return done

    def _back_off(self, key: _Key) -> None:
        previous = self._backoff.get(key)
        failures = (previous.failures if previous else 0) + 1
        delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (failures - 1))
        at = max(self._clock() + delay, self._not_before.get(key, 0.0))
        self._backoff[key] = _Backoff(at, failures)

    def _refreshable(self) -> list[tuple[Account, TokenSet]]:
        found: list[tuple[Account, TokenSet]] = []
        for acc in self._accounts.list():
            if acc.kind is not AccountKind.OAUTH2 or acc.status is not AccountStatus.OK:
                continue
            try:
                tokens = self._load_tokens(acc)
            except SigilforgeError as exc:
                log.info("cannot read tokens of %s/%s: %s", acc.service, acc.account, exc.code)
                continue
            if tokens.refresh_token:
                found.append((acc, tokens))
        return found

    def _mark_reauth(self, acc: Account, reason: str, detail: str | None = None) -> None:
        self._accounts.update(acc.service, acc.account, status=AccountStatus.REAUTH_REQUIRED)
        self._reauth_reasons[acc.key] = detail or reason
        self.forget(acc.service, acc.account)
        self._events.emit(events.ReauthRequired(acc.service, acc.account, reason))
        raise ReauthRequired(f"{acc.service}/{acc.account}: {detail or reason}")

    def _get_refresher(self) -> Refresher:
        if self._refresher is None:
            if self._refresher_factory is None:
                raise ProviderError("OAuth refresh is not available in this build")
            self._refresher = self._refresher_factory()
        return self._refresher


def _key(acc: Account, kind: SecretKind) -> SecretKey:
    return SecretKey.for_account(acc.service, acc.account, kind)
