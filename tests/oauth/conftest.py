"""Fixtures for the OAuth suites: a scriptable authorization server on loopback, a
provider ``corp`` configured in providers.toml by its issuer only, and a broker opened
in-process on that home (``either_broker``: one that refreshes in-process, then one that
refreshes in child processes, as the daemon's). Signing in as a user would is
``sigilforge.testing.signin``."""

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


@pytest.fixture(params=["in-process", "child-process"])
def either_broker(request: pytest.FixtureRequest, corp: AuthServer) -> Iterator[Broker]:
    """A broker that refreshes in-process (CLI, embedders), then one that refreshes in a
    child process as the daemon's does (``isolate_refresh``): both must behave alike."""
    b = Broker.open(keep_unsaved=True, isolate_refresh=request.param == "child-process")
    yield b
    b.close()
