"""Fixtures for the OAuth suites: a scriptable authorization server on loopback, a
provider ``corp`` configured in providers.toml by its issuer only, and a broker opened
in-process on that home. Signing in as a user would is ``sigilforge.testing.signin``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sigilforge.broker import Broker
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.home import Home
from sigilforge.testing.signin import write_provider


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
