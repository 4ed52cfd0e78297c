"""A user of the ``AuthServer``: configure it as a provider in a home, and sign in to it
through the real browser flow with the consent given headlessly."""

from __future__ import annotations

from sigilforge import paths
from sigilforge.broker import BrokerAPI
from sigilforge.config import Config
from sigilforge.model import Account, AddOptions, TokenSet
from sigilforge.store import open_store
from sigilforge.testing.authserver import AuthServer, consent
from sigilforge.testing.home import Home

__all__ = ["sign_in", "stored_tokens", "write_provider"]


def write_provider(home: Home, server: AuthServer, *, name: str = "corp", **config: float) -> None:
    """``server`` as provider ``name`` (by issuer only), and short time limits in
    ``config.toml`` (``config`` overrides them) so a failing test fails fast."""
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "providers.toml").write_text(server.provider_entry(name))
    settings = {"http_timeout_secs": 2.0, "flow_timeout_secs": 30.0, **config}
    (home.config_dir / "config.toml").write_text(
        "".join(f"{key} = {value}\n" for key, value in settings.items())
    )


def sign_in(broker: BrokerAPI, account: str, *, service: str = "corp") -> Account:
    """Add an account through the real browser flow, consenting headlessly (in-process,
    or through the daemon with a D-Bus client)."""
    pending = broker.add_account(service, account, AddOptions(open_browser=False))
    page = consent(pending.prompt["authorize_url"])
    if page.status_code != 200:
        raise AssertionError(f"the app's loopback page said {page.status_code}: {page.text}")
    return pending.result(timeout=15)


def stored_tokens(account: str = "alice", *, service: str = "corp") -> TokenSet:
    """The token set the user's secret store holds, read as another process would."""
    from sigilforge.tokens import read_token_set

    store = open_store(Config.load(paths.config_file()).store)
    try:
        tokens = read_token_set(store, service, account)
    finally:
        store.close()
    assert tokens is not None
    return tokens
