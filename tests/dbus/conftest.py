"""Fixtures for the D-Bus tests: the broker activatable on a private bus.

- ``rig``: one private bus + keyring + activation file for the whole run (session).
- ``broker_rig``: that rig for one test: no daemon running at the start, no accounts,
  an empty keyring and an empty daemon log; the bus address is in ``os.environ`` so
  in-process clients reach it too.
- ``own_rig``: a rig of the test's own, for tests that change config or the bus.
- ``corp_rig``: ``broker_rig`` with the ``auth_server`` configured as provider ``corp``
  by issuer only (``providers.toml``), for the daemon's OAuth paths.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.keyring import clear_items
from sigilforge.testing.signin import write_provider


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerRig]:
    with BrokerRig(tmp_path_factory.mktemp("rig")) as shared:
        yield shared


@pytest.fixture
def broker_rig(rig: BrokerRig, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokerRig]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", rig.bus.address)
    yield rig
    rig.stop_daemon()
    shutil.rmtree(rig.config_dir, ignore_errors=True)
    rig.log_file.unlink(missing_ok=True)
    clear_items(rig.env)


@pytest.fixture
def own_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokerRig]:
    with BrokerRig(tmp_path / "own") as mine:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", mine.bus.address)
        yield mine


@pytest.fixture
def corp_rig(broker_rig: BrokerRig, auth_server: AuthServer) -> BrokerRig:
    write_provider(broker_rig.home, auth_server)
    return broker_rig
