"""Session-wide isolation and the real parts every suite can ask for.

Before any test runs, HOME, every XDG_* dir and the session bus address are pointed into a
temp dir, so a plain ``pytest`` can never touch the developer's own bus, keyring or config.

Fixtures:
- ``session_env``: that isolated environment (a dict, also in ``os.environ``).
- ``bus``: a private dbus-daemon for the session (its address in the environment).
- ``secret_service``: a headless gnome-keyring on that bus, unlocked.
- ``home``: per test, a fresh config/state dir (so ``accounts.json`` starts empty) and an
  empty keyring collection afterwards.
- ``fresh_keyring``: per test, a bus and keyring of its own, for tests that lock it.
- ``run_cli``: runs ``python -m sigilforge`` in a subprocess with the test's environment.
- ``auth_server``: per test, a scriptable OAuth authorization server on loopback whose
  tokens all carry ``MARKER`` (``sigilforge/testing/authserver.py``).

The rigs and helpers behind them are in ``sigilforge.testing``; tests import from there,
never from a conftest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.bus import PrivateBus
from sigilforge.testing.cli import RunCli, run_cli_in
from sigilforge.testing.env import XDG_VARS, isolated_env
from sigilforge.testing.home import Home, Isolated
from sigilforge.testing.keyring import HeadlessKeyring, clear_items
from sigilforge.testing.marker import MARKER

_ROOT = Path(tempfile.mkdtemp(prefix="sigilforge-tests-"))
_SESSION_ENV = isolated_env(_ROOT / "session")
os.environ.clear()
os.environ.update(_SESSION_ENV)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def session_env() -> dict[str, str]:
    return _SESSION_ENV


@pytest.fixture(scope="session")
def bus(session_env: dict[str, str]) -> Iterator[PrivateBus]:
    with PrivateBus(_ROOT / "session", session_env) as private:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = private.address
        yield private


@pytest.fixture(scope="session")
def secret_service(bus: PrivateBus, session_env: dict[str, str]) -> Iterator[HeadlessKeyring]:
    with HeadlessKeyring(session_env) as keyring:
        yield keyring


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_service: HeadlessKeyring
) -> Iterator[Home]:
    env = dict(os.environ)
    for var, rel in XDG_VARS.items():
        path = tmp_path / "home" / rel
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
        env[var] = str(path)
    yield Home(tmp_path, env)
    clear_items(env)


@pytest.fixture
def fresh_keyring(tmp_path: Path) -> Iterator[Isolated]:
    """A bus and a keyring of this test's own (slower; for tests that lock or kill it)."""
    env = isolated_env(tmp_path / "iso")
    with PrivateBus(tmp_path / "iso", env) as private, HeadlessKeyring(env) as keyring:
        yield Isolated(env, private, keyring)


@pytest.fixture
def bare_bus(tmp_path: Path) -> Iterator[Isolated]:
    """A private bus with no Secret Service on it and none activatable."""
    env = isolated_env(tmp_path / "bare")
    with PrivateBus(tmp_path / "bare", env) as private:
        yield Isolated(env, private, None)


@pytest.fixture
def run_cli(home: Home) -> RunCli:
    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_cli_in(env or home.env, *args, stdin=stdin, timeout=timeout)

    return run


@pytest.fixture
def auth_server() -> Iterator[AuthServer]:
    # Every token, code and refresh token carries the marker, so a leak is findable.
    with AuthServer(token_prefix=MARKER) as server:
        yield server
