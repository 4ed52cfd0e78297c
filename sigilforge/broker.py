"""Broker: the one library facade. The daemon and the CLI both drive exactly this.

>>> with Broker.open() as broker:                      # doctest: +SKIP
...     broker.add_account("openai", "work", AddOptions(api_key="sk-...")).result()
...     broker.get_token("openai", "work").token

Events (account added/removed, token refreshed, re-auth needed) reach listeners given
to ``subscribe``; the D-Bus layer turns them into signals. The OAuth machinery (authlib,
httpx2) is imported only when a flow, a refresh or a revocation is due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sigilforge import paths
from sigilforge.accounts import AccountStore
from sigilforge.config import Config
from sigilforge.errors import (
    AccountExists,
    InvalidArgument,
    SigilforgeError,
    UnknownProvider,
)
from sigilforge.events import AccountAdded, AccountRemoved, EventHub, Listener
from sigilforge.fileio import repair_unsafe_dir
from sigilforge.model import (
    API_KEY_MAX,
    AccessToken,
    Account,
    AccountKind,
    AccountStatus,
    AddOptions,
    Flow,
    Grant,
    Removal,
    TokenSet,
    validate_account,
    validate_service,
)
from sigilforge.status import StoreStatus
from sigilforge.store import SecretKey, SecretKind, SecretStore, open_store
from sigilforge.tokens import Refresher, TokenManager, refresh_time_limit

if TYPE_CHECKING:
    from sigilforge.isolated_refresh import ChildRefresh, RefreshReport, RefreshRequest
    from sigilforge.pending import Pending
    from sigilforge.resolve import Resolver

__all__ = ["Broker", "BrokerAPI", "GrantFlows"]

log = logging.getLogger(__name__)


class GrantFlows(Protocol):
    """The OAuth side, as the broker needs it (implemented in ``sigilforge.oauth``)."""

    def start(self, service: str, account: str, options: AddOptions) -> Pending[Grant]:
        """Begin a flow; the prompt is ready on return, the grant arrives later."""
        ...

    def refresher(self) -> Refresher: ...

    def revoke(self, account: Account, tokens: TokenSet) -> bool:
        """Revoke at the provider. False if it has no revocation endpoint."""
        ...


class BrokerAPI(Protocol):
    """What the CLI needs, met both by ``Broker`` in-process and by the blocking D-Bus
    client talking to the daemon; both raise the same ``sigilforge.errors`` classes."""

    def list_accounts(self) -> list[Account]: ...

    def get_token(self, service: str, account: str) -> AccessToken: ...

    def refresh_token(self, service: str, account: str) -> AccessToken: ...

    def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> Pending[Account]: ...

    def remove_account(self, service: str, account: str) -> Removal: ...

    def resolve(self, reference: str) -> str: ...

    def close(self) -> None: ...


class Broker:
    # The token from memory, as of the last look at ``accounts.json``, and that look's
    # epoch; None means call ``get_token``. It may answer a request only once
    # ``cache_unchanged_since(epoch)``, asked after the request arrived, says True. The
    # token manager's own method, bound once: the daemon asks it for every call.
    cached_token: Callable[[str, str], tuple[AccessToken, int] | None]

    def __init__(
        self,
        *,
        accounts: AccountStore,
        secrets: SecretStore,
        config: Config | None = None,
        lock_dir: Path | None = None,
        oauth: Callable[[], GrantFlows] | None = None,
        clock: Callable[[], float] = time.time,
        providers_file: Path | None = None,
        keep_unsaved: bool = False,
        isolate_refresh: bool = False,
    ) -> None:
        self.config = config or Config()
        self._providers_file = providers_file
        self._accounts = accounts
        self._secrets = secrets
        self._status = StoreStatus(secrets)
        self._events = EventHub()
        self._oauth_factory = oauth
        self._oauth_flows: GrantFlows | None = None
        self._clock = clock
        self._tokens = TokenManager(
            accounts,
            secrets,
            events=self._events,
            lock_dir=lock_dir,
            refresher=lambda: self._oauth().refresher(),
            clock=clock,
            keep_unsaved=keep_unsaved,
            isolated=(
                _RefreshProcesses(refresh_time_limit(self.config.http_timeout_secs))
                if isolate_refresh
                else None
            ),
        )
        self.cached_token = self._tokens.peek_access_token
        # Made by the first ``resolve``: nothing else needs it (nor its imports).
        self._resolver: Resolver | None = None
        self._resolver_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        config: Config | None = None,
        *,
        secrets: SecretStore | None = None,
        keep_unsaved: bool = False,
        isolate_refresh: bool = False,
    ) -> Broker:
        """The broker for the current user: files under the XDG dirs, the configured store.

        ``keep_unsaved`` (a long-lived process, the daemon): a refreshed token set the
        store refuses (locked) is kept in memory, served, and saved by ``save_unsaved``
        or the next call once the store takes it; without it, the refresh fails saying
        that a new sign-in will be needed.

        ``isolate_refresh`` (the daemon): each refresh runs in a child process
        (``sigilforge.isolated_refresh``), so a SIGKILL, crash or OOM kill of this
        process never loses a rotated refresh token; the child opens its own broker
        with ``Broker.open`` in the same environment. In-process users (the CLI with
        ``--no-daemon``, embedders) refresh in-process, their signals deferred."""
        # A config dir others can write to lets them swap our files: fixed, with a warning.
        repair_unsafe_dir(paths.config_dir())
        if config is None:
            config = Config.load(paths.config_file())
        return cls(
            accounts=AccountStore(paths.accounts_file()),
            secrets=secrets if secrets is not None else open_store(config.store),
            config=config,
            oauth=None,
            providers_file=paths.providers_file(),
            keep_unsaved=keep_unsaved,
            isolate_refresh=isolate_refresh,
        )

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.close_refreshes()
        closer = getattr(self._oauth_flows, "close", None)
        if closer is not None:
            closer()
        self._secrets.close()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns the function that unsubscribes."""
        return self._events.subscribe(listener)

    # -- reading -----------------------------------------------------------------------

    def list_accounts(self) -> list[Account]:
        """Every account, its status as the secret store has it now."""
        return self._status.overlay(self._accounts.list())

    def get_account(self, service: str, account: str) -> Account:
        return self._accounts.get(validate_service(service), validate_account(account))

    def get_token(self, service: str, account: str) -> AccessToken:
        """A valid access token (or the API key), refreshed first if it is due."""
        return self._tokens.ensure_access_token(
            validate_service(service), validate_account(account)
        )

    def cache_unchanged_since(self, epoch: int) -> bool:
        return self._tokens.accounts_unchanged_since(epoch)

    def refresh_token(self, service: str, account: str) -> AccessToken:
        """Refresh now, whether due or not."""
        return self._tokens.force_refresh(validate_service(service), validate_account(account))

    def last_refreshed(self, service: str, account: str) -> int | None:
        """When the stored token set was obtained (Unix seconds); None if unknown."""
        tokens = self._tokens.stored_tokens(self._accounts.get(service, account))
        return tokens.obtained_at if tokens is not None else None

    def check_store(self) -> None:
        """Raise ``StoreLocked``/``StoreUnavailable`` if the secret store cannot be read."""
        self._secrets.get(SecretKey.client_secret("sigilforge-status-probe"))

    def resolve(self, reference: str) -> str:
        with self._resolver_lock:
            if self._resolver is None:
                from sigilforge.resolve import Resolver

                self._resolver = Resolver(self._accounts, self._tokens, self.config)
            resolver = self._resolver
        return resolver.resolve(reference)

    # -- proactive refresh (the daemon's timer) ------------------------------------------

    def next_refresh_at(self) -> float | None:
        """When the next OAuth token falls due, as Unix time (wall clock); None if none
        will. The daemon sleeps until then -- in short steps, since a monotonic sleep
        stops during suspend -- and calls ``refresh_due`` (``sigilforge.refresh_timer``)."""
        return self._tokens.next_refresh_at()

    def refreshes(self, service: str, account: str) -> bool:
        """Whether the account holds tokens the timer may have to refresh (OAuth)."""
        found = self._accounts.find(service, account)
        return found is not None and found.kind is AccountKind.OAUTH2

    def refresh_due(self) -> list[tuple[str, str]]:
        """Refresh every token that is due now; the accounts refreshed. Each success
        emits ``TokenRefreshed``, each revoked grant ``ReauthRequired``; a temporary
        failure is retried later with backoff, never raised."""
        return self._tokens.refresh_due()

    def has_unsaved(self) -> bool:
        """Whether refreshed tokens live only in memory (the store refused them)."""
        return self._tokens.has_unsaved()

    def save_unsaved(self) -> None:
        """Save refreshed tokens the store refused earlier, if it takes them now."""
        self._tokens.save_unsaved()

    def close_refreshes(self) -> None:
        """With ``isolate_refresh``: start no more refresh processes, and calls waiting on
        one stop waiting at once with a named error; the processes finish and save on
        their own. The daemon calls it when it leaves with calls still running."""
        self._tokens.close()

    def report_refresh(self, request: RefreshRequest) -> RefreshReport:
        """Run one refresh as ``request`` asks and report what happened instead of
        raising: the child process of an ``isolate_refresh`` broker calls this."""
        return self._tokens.report_refresh(request)

    # -- OAuth providers -------------------------------------------------------------------

    def provider_names(self) -> list[str]:
        from sigilforge.providers import ProviderRegistry

        return ProviderRegistry(self._providers_file).names()

    def set_client_secret(self, provider: str, secret: str) -> None:
        """Keep an OAuth client secret for ``provider`` in the secret store."""
        if provider not in self.provider_names():
            raise UnknownProvider(f"no provider {provider!r} is built in or in providers.toml")
        value = _clean_api_key(secret, what="client secret")
        self._secrets.set(SecretKey.client_secret(provider), value)

    def delete_client_secret(self, provider: str) -> bool:
        return self._secrets.delete(SecretKey.client_secret(provider))

    # -- changing ------------------------------------------------------------------------

    def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> Pending[Account]:
        """Start adding an account. An API key completes at once; an OAuth flow returns
        with its prompt (URL or device code) and completes when the user has consented.
        An account that needs re-authentication may be added again."""
        options = options or AddOptions()
        validate_service(service)
        validate_account(account)
        existing = self._accounts.find(service, account)
        if existing is not None and existing.status is AccountStatus.OK:
            raise AccountExists(f"account {service}/{account} exists; remove it first")
        if options.resolved_flow() is Flow.API_KEY:
            from sigilforge.pending import Pending  # AddAccount's alone: not at activation

            key = _clean_api_key(options.api_key)
            return Pending.completed(self._save_api_key(service, account, key, existing))
        pending = self._oauth().start(service, account, options)
        return pending.then(lambda grant: self._save_grant(service, account, grant, existing))

    def _save_api_key(
        self, service: str, account: str, key: str, existing: Account | None
    ) -> Account:
        acc = Account(service, account, AccountKind.API_KEY, created_at=int(self._clock()))
        return self._commit(acc, existing, lambda: self._tokens.store_api_key(acc, key))

    def _save_grant(
        self, service: str, account: str, grant: Grant, existing: Account | None
    ) -> Account:
        acc = Account(
            service,
            account,
            AccountKind.OAUTH2,
            provider=grant.provider,
            scopes=grant.scopes,
            created_at=int(self._clock()),
            expires_at=grant.tokens.expires_at,
        )
        return self._commit(acc, existing, lambda: self._tokens.store_tokens(acc, grant.tokens))

    def _commit(
        self, acc: Account, existing: Account | None, save_secret: Callable[[], None]
    ) -> Account:
        """Secret and metadata, all or nothing: the secret is saved under the accounts
        lock once the name is known to be free (a same-name race leaves the winner's),
        and put back as it was if ``accounts.json`` cannot be written."""
        key = SecretKey.for_account(acc.service, acc.account, _secret_kind(acc.kind))

        def save() -> Callable[[], None]:
            # Only a record's secret is put back. With no record under this name (checked
            # under the lock), an item under its key belongs to no account (DESIGN 4: no
            # secret without its metadata), so undoing deletes it; and a new account's add
            # makes no search, which costs the Secret Service a scan of every item.
            previous = self._secrets.get(key) if existing is not None else None
            save_secret()

            def undo() -> None:
                if previous is None:
                    self._secrets.delete(key)
                else:
                    self._secrets.set(key, previous)

            return undo

        self._accounts.add(acc, replace=existing, before_write=save)
        if existing is not None and existing.kind is not acc.kind:
            self._delete_secret(acc.service, acc.account, _secret_kind(existing.kind))
        self._tokens.forget(acc.service, acc.account)
        self._events.emit(AccountAdded(acc.service, acc.account))
        return acc

    def remove_account(self, service: str, account: str) -> Removal:
        """Revoke at the provider where possible, then delete the secrets and metadata.
        A failed revocation is reported in the result; the account is removed anyway."""
        acc = self.get_account(service, account)
        revoked: bool | None = None
        note = ""
        if acc.kind is AccountKind.OAUTH2:
            revoked, note = self._revoke(acc)
        # accounts.json first, the secret after it under the same lock: a file that cannot
        # be written leaves the secret, a store that refuses the delete puts the record
        # back; either way nothing is half removed.
        kind = _secret_kind(acc.kind)
        self._accounts.remove(
            acc.service,
            acc.account,
            after_write=lambda: self._delete_secret(acc.service, acc.account, kind),
        )
        self._tokens.forget(acc.service, acc.account)
        self._events.emit(AccountRemoved(acc.service, acc.account))
        return Removal(acc, revoked, note)

    def _revoke(self, acc: Account) -> tuple[bool | None, str]:
        tokens = self._tokens.stored_tokens(acc)
        if tokens is None:
            return None, "no tokens were stored"
        try:
            done = self._oauth().revoke(acc, tokens)
        except SigilforgeError as exc:
            log.warning("revocation for %s/%s failed: %s", acc.service, acc.account, exc.code)
            return False, f"revocation failed ({exc.message}); removed locally"
        return (True, "") if done else (None, "the provider has no revocation endpoint")

    def _delete_secret(self, service: str, account: str, kind: SecretKind) -> None:
        self._secrets.delete(SecretKey.for_account(service, account, kind))

    def _oauth(self) -> GrantFlows:
        if self._oauth_flows is None:
            if self._oauth_factory is None:
                self._oauth_factory = self._default_oauth
            self._oauth_flows = self._oauth_factory()
        return self._oauth_flows

    def _default_oauth(self) -> GrantFlows:
        # Imported here: authlib and httpx2 cost ~125 ms, paid only when OAuth is due.
        from sigilforge.oauth import OAuthFlows
        from sigilforge.providers import ProviderRegistry

        return OAuthFlows(ProviderRegistry(self._providers_file), self._secrets, self.config)


class _RefreshProcesses:
    """``isolated_refresh.ChildRefresh``, made by the first refresh: a daemon whose first
    calls refresh nothing (an API key, a token still valid) never loads the child's
    codec while it answers them."""

    def __init__(self, time_limit: float) -> None:
        self._time_limit = time_limit
        self._lock = threading.Lock()
        self._children: ChildRefresh | None = None
        self._closed = False

    def _get(self) -> ChildRefresh:
        with self._lock:
            if self._children is None:
                from sigilforge.isolated_refresh import ChildRefresh

                self._children = ChildRefresh(self._time_limit)
                if self._closed:
                    self._children.close()
            return self._children

    def run(self, request: RefreshRequest) -> RefreshReport:
        return self._get().run(request)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._children is not None:
                self._children.close()


def _secret_kind(kind: AccountKind) -> SecretKind:
    return SecretKind.TOKEN_SET if kind is AccountKind.OAUTH2 else SecretKind.API_KEY


def _clean_api_key(value: str | None, *, what: str = "API key") -> str:
    key = (value or "").removesuffix("\n").removesuffix("\r")
    if not key.strip():
        raise InvalidArgument(f"the {what} is empty")
    if len(key) > API_KEY_MAX or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidArgument(f"the {what} has control characters or is too long")
    return key
