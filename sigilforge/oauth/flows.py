"""``OAuthFlows``: what the broker calls to add, refresh and revoke OAuth accounts.

``start`` does everything that can fail fast (provider lookup, discovery, binding the
listener, asking for a device code) before it returns, so the prompt is ready and a
misconfiguration is an immediate error; the wait for the user runs in a worker thread
that completes the ``Pending``. ``Pending.cancel`` stops the wait and closes the
listener.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
import webbrowser
from collections.abc import Callable

from sigilforge.config import Config
from sigilforge.errors import InvalidArgument, SigilforgeError, describe_unexpected
from sigilforge.model import Account, AddOptions, Flow, Grant, TokenSet
from sigilforge.oauth import device, revocation, token_endpoint
from sigilforge.oauth.client import Client
from sigilforge.oauth.code_flow import CodeFlow
from sigilforge.oauth.discovery import Discovery
from sigilforge.oauth.http import Http
from sigilforge.pending import Pending
from sigilforge.providers import Provider, ProviderRegistry
from sigilforge.store.base import SecretKey, SecretStore

__all__ = ["OAuthFlows", "client_secret_key"]

# The longest a sign-in may stay open (option timeout, flow_timeout_secs).
MAX_FLOW_TIMEOUT = 3600.0

log = logging.getLogger(__name__)


def client_secret_key(provider: str) -> SecretKey:
    return SecretKey.client_secret(provider)


class OAuthFlows:
    def __init__(
        self,
        registry: ProviderRegistry,
        secrets: SecretStore,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        open_url: Callable[[str], bool] | None = None,
    ) -> None:
        self._registry = registry
        self._secrets = secrets
        self._config = config
        self._clock = clock
        self._open_url = open_url or open_in_browser
        self._http = Http(config.http_timeout_secs)
        self._discovery = Discovery(self._http)

    def close(self) -> None:
        self._http.close()

    # -- the provider, ready to use ---------------------------------------------------------

    def provider(self, name: str) -> Provider:
        return self._discovery.resolve(self._registry.get(name))

    def _client(self, provider: Provider) -> Client:
        secret = self._secrets.get(client_secret_key(provider.name))
        return Client(provider.client_id, secret or None, provider.token_auth_method)

    # -- GrantFlows -----------------------------------------------------------------------

    def start(self, service: str, account: str, options: AddOptions) -> Pending[Grant]:
        provider = self.provider(options.provider or service)
        scopes = tuple(options.scopes) or provider.scopes
        if (
            options.scopes
            and "offline_access" in provider.scopes
            and "offline_access" not in scopes
        ):
            # Without it a Microsoft-style server issues no refresh token at all.
            scopes = (*scopes, "offline_access")
        client = self._client(provider)
        timeout = options.timeout if options.timeout is not None else self._config.flow_timeout_secs
        if not 0 < timeout <= MAX_FLOW_TIMEOUT:
            # Each open flow holds a listening socket and threads until it ends.
            raise InvalidArgument(
                f"option timeout must be between 1 and {MAX_FLOW_TIMEOUT:g} seconds"
            )
        flow = options.resolved_flow()
        if flow is Flow.DEVICE:
            return self._start_device(provider, client, scopes, timeout)
        if flow in (Flow.BROWSER, Flow.PASTE):
            return self._start_browser(
                provider,
                client,
                scopes,
                timeout,
                open_browser=options.open_browser and flow is Flow.BROWSER,
            )
        raise InvalidArgument(f"flow {flow.value} is not an OAuth flow")

    def _start_browser(
        self,
        provider: Provider,
        client: Client,
        scopes: tuple[str, ...],
        timeout: float,
        *,
        open_browser: bool,
    ) -> Pending[Grant]:
        code_flow = CodeFlow.begin(provider, client, scopes)
        cancelled = threading.Event()

        def cancel() -> None:
            cancelled.set()
            code_flow.listener.close()

        prompt = {
            "authorize_url": code_flow.authorize_url,
            "redirect_uri": code_flow.listener.redirect_uri,
            "expires_in": str(int(timeout)),
        }
        pending: Pending[Grant] = Pending(prompt, on_cancel=cancel)
        if open_browser:
            prompt_opened = self._open_url(code_flow.authorize_url)
            pending.prompt["browser_opened"] = "true" if prompt_opened else "false"

        def work() -> TokenSet:
            return code_flow.finish(
                self._http, timeout=timeout, cancelled=cancelled, now=self._clock
            )

        self._run(pending, provider, work)
        return pending

    def _start_device(
        self, provider: Provider, client: Client, scopes: tuple[str, ...], timeout: float
    ) -> Pending[Grant]:
        if provider.device_authorization_url is None:
            raise InvalidArgument(
                f"{provider.name} does not offer the device flow; use the browser"
            )
        assert provider.token_url is not None
        token_url = provider.token_url
        grant = device.authorize(self._http, provider.device_authorization_url, client, scopes)
        cancelled = threading.Event()
        pending: Pending[Grant] = Pending(grant.prompt(), on_cancel=cancelled.set)

        def work() -> TokenSet:
            return device.poll(
                self._http,
                token_url,
                client,
                grant,
                scopes=scopes,
                timeout=timeout,
                cancelled=cancelled,
                now=self._clock,
            )

        self._run(pending, provider, work)
        return pending

    def _run(
        self, pending: Pending[Grant], provider: Provider, work: Callable[[], TokenSet]
    ) -> None:
        def target() -> None:
            try:
                tokens = work()
            except SigilforgeError as exc:
                log.info("sign-in with %s ended: %s", provider.name, exc.code)
                pending.set_exception(exc)
                return
            except Exception as exc:
                log.error("sign-in with %s failed: %s", provider.name, describe_unexpected(exc))
                pending.set_exception(exc)
                return
            pending.set_result(Grant(tokens, provider.name, tokens.scopes))

        threading.Thread(
            target=target, name=f"sigilforge-flow-{provider.name}", daemon=True
        ).start()

    def refresher(self) -> OAuthFlows:
        return self

    def refresh(self, account: Account, tokens: TokenSet) -> TokenSet:
        provider = self.provider(account.provider or account.service)
        assert provider.token_url is not None
        return token_endpoint.refresh(
            self._http, provider.token_url, self._client(provider), tokens, now=self._clock
        )

    def revoke(self, account: Account, tokens: TokenSet) -> bool:
        provider = self.provider(account.provider or account.service)
        if provider.revocation_url is None:
            return False
        client = self._client(provider)
        if provider.revocation_style == "github":
            revocation.revoke_github_grant(self._http, provider.revocation_url, client, tokens)
        else:
            revocation.revoke_rfc7009(self._http, provider.revocation_url, client, tokens)
        return True


def open_in_browser(url: str) -> bool:
    """Open ``url`` in the desktop's browser; False where there is no desktop.

    Without a display, ``webbrowser`` would fall back to a text browser that takes over
    the terminal (or the daemon's nothing), so it is not tried at all then.
    """
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    opener = shutil.which("xdg-open")
    if opener is not None:
        try:
            subprocess.Popen(
                [opener, url],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            return True
        except OSError:
            pass
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False
