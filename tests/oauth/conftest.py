"""Fixtures for the OAuth suites: a scriptable authorization server on loopback, a
provider ``corp`` configured in providers.toml by its issuer only, and helpers to sign
in the way a user would (through the CLI, or in-process through the broker)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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


class CliFlow:
    """A running ``sigilforge`` whose stderr is read line by line as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sigilforge", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._killer = threading.Timer(60, self.proc.kill)
        self._killer.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def line_after(self, text: str, timeout: float = 20) -> str:
        """The line that follows the first line containing ``text``."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: any(text in ln for ln in self.lines[:-1]), timeout=timeout
            )
            assert ok, f"no {text!r} in {self.lines}"
            index = next(i for i, ln in enumerate(self.lines) if text in ln)
            return self.lines[index + 1]

    def wait_line(self, text: str, timeout: float = 20) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(text in ln for ln in self.lines), timeout=timeout)
            assert ok, f"no {text!r} in {self.lines}"

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self._killer.cancel()
        self._reader.join(5)
        return code, out, "\n".join(self.lines)


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


def env_with_path(env: dict[str, str]) -> dict[str, str]:
    # A helper process that imports ``tests`` needs the repo on its path.
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return out
