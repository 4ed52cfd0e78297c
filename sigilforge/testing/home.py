"""Where a test's user lives: ``Home`` (a per-test config/state dir set in ``env``) and
``Isolated`` (an environment with a bus, and a keyring or none, of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sigilforge.testing.bus import PrivateBus
from sigilforge.testing.keyring import HeadlessKeyring

__all__ = ["Home", "Isolated"]


@dataclass
class Home:
    """``env`` names every XDG dir under ``root``: what a CLI or daemon started with it
    reads and writes."""

    root: Path
    env: dict[str, str]

    @property
    def config_dir(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "sigilforge"

    @property
    def accounts_file(self) -> Path:
        return self.config_dir / "accounts.json"


@dataclass
class Isolated:
    env: dict[str, str]
    bus: PrivateBus
    keyring: HeadlessKeyring | None
