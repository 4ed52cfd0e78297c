"""Where Sigilforge keeps its files, by the XDG base directory rules.

Read straight from the environment: platformdirs gave the same answers on Linux but cost
~5 ms of imports (tempfile, shutil, the compression modules) on every daemon activation.
"""

from __future__ import annotations

import os
from pathlib import Path

from sigilforge.fileio import make_dirs

__all__ = [
    "accounts_file",
    "config_dir",
    "config_file",
    "ensure_private_dir",
    "log_file",
    "providers_file",
    "refresh_lock_dir",
    "runtime_dir",
    "state_dir",
]

APP = "sigilforge"


def _xdg(variable: str) -> Path | None:
    # The spec: a relative path in these variables is invalid and must be ignored.
    value = os.environ.get(variable, "").strip()
    return Path(value) if value and os.path.isabs(value) else None


def _home(relative: str) -> Path:
    return Path(os.path.expanduser("~")) / relative


def config_dir() -> Path:
    return (_xdg("XDG_CONFIG_HOME") or _home(".config")) / APP


def state_dir() -> Path:
    return (_xdg("XDG_STATE_HOME") or _home(".local/state")) / APP


def runtime_dir() -> Path:
    # XDG_RUNTIME_DIR is per-user tmpfs; without it (no login session), fall back to the
    # state dir rather than /tmp, where another user could pre-create our lock files.
    runtime = _xdg("XDG_RUNTIME_DIR")
    return runtime / APP if runtime is not None else state_dir() / "run"


def config_file() -> Path:
    return config_dir() / "config.toml"


def providers_file() -> Path:
    return config_dir() / "providers.toml"


def accounts_file() -> Path:
    return config_dir() / "accounts.json"


def refresh_lock_dir(accounts: Path) -> Path:
    """Where the per-account refresh locks live: beside ``accounts``, so every process
    that shares the accounts shares the locks, whatever its XDG_RUNTIME_DIR says."""
    return accounts.with_name(accounts.name + ".locks")


def log_file() -> Path:
    return state_dir() / "sigilforge.log"


def ensure_private_dir(path: Path) -> Path:
    make_dirs(path, 0o700)
    return path
