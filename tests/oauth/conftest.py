"""Fixtures for the OAuth suites: a scriptable authorization server on loopback, a
provider ``corp`` configured in providers.toml by its issuer only, and helpers to sign
in the way a user would (through the CLI, or in-process through the broker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.broker import Broker, BrokerAPI
from sigilforge.model import Account, AddOptions
from tests.conftest import Home
from tests.support.authserver import AuthServer, consent

REPO = Path(__file__).resolve().parents[2]


def write_provider(home: Home, server: AuthServer, *, name: str = "corp", **config: float) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "providers.toml").write_text(
        f'[providers.{name}]\nissuer = "{server.issuer}"\nclient_id = "{server.client_id}"\n'
    )
    settings = {"http_timeout_secs": 2.0, "flow_timeout_secs": 30.0, **config}
    (home.config_dir / "config.toml").write_text(
        "".join(f"{key} = {value}\n" for key, value in settings.items())
    )


@pytest.fixture
def corp(home: Home, auth_server: AuthServer) -> AuthServer:
    """The server, configured as provider ``corp`` by issuer only."""
    write_provider(home, auth_server)
    return auth_server


@pytest.fixture
def broker(corp: AuthServer) -> Iterator[Broker]:
    b = Broker.open()
    yield b
    b.close()


def sign_in(broker: BrokerAPI, account: str, *, service: str = "corp") -> Account:
    """Add an account through the real browser flow, consenting headlessly (in-process,
    or through the daemon with a D-Bus client)."""
    pending = broker.add_account(service, account, AddOptions(open_browser=False))
    page = consent(pending.prompt["authorize_url"])
    assert page.status_code == 200, page.text
    return pending.result(timeout=15)


def files_containing(root: Path, needle: str) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle.encode() in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found
