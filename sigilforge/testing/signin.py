"""A user of the ``AuthServer``: configure it as a provider in a home, and sign in to it
through the real browser flow with the consent given headlessly."""

from __future__ import annotations

from sigilforge.broker import BrokerAPI
from sigilforge.model import Account, AddOptions
from sigilforge.testing.authserver import AuthServer, consent
from sigilforge.testing.home import Home

__all__ = ["sign_in", "write_provider"]


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
