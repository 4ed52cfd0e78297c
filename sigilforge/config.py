"""User configuration, read from ``config.toml`` (never written by Sigilforge).

All keys are optional and top-level::

    store = "auto"             # "auto", "secret-service" or "keyring"
    idle_timeout_secs = 300    # the daemon exits after this long without a call (0: never)
    enable_vals = false        # resolve vals:ref+... / ref+... references with `vals`
    vals_path = "vals"
    vals_timeout_secs = 10
    cache_ttl_secs = 60        # how long a vals result is reused
    vals_backends = []         # vals backends to allow beyond the built-in remote ones
                               # (e.g. ["file"]; exec, file, envsubst, sops... run local
                               # code or read local files, so they are off by default)
    http_timeout_secs = 15     # every request to a provider
    flow_timeout_secs = 300    # how long add-account waits for the user

A ``[git]`` table (``"HOST[/PATH]" = "SERVICE[/ACCOUNT]"``) is read by the git credential
helper (``sigilforge.cli.git``), not here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sigilforge.errors import InvalidArgument
from sigilforge.fileio import UnsafeFile, read_regular

__all__ = ["STORE_CHOICES", "Config"]

log = logging.getLogger(__name__)

# [git]: the git credential helper's host mapping (sigilforge.cli.git).
_TABLES_READ_ELSEWHERE = frozenset({"git"})

STORE_CHOICES = ("auto", "secret-service", "keyring")


@dataclass(frozen=True, slots=True)
class Config:
    store: str = "auto"
    idle_timeout_secs: float = 300.0
    enable_vals: bool = False
    vals_path: str = "vals"
    vals_timeout_secs: float = 10.0
    cache_ttl_secs: float = 60.0
    vals_backends: tuple[str, ...] = ()
    http_timeout_secs: float = 15.0
    flow_timeout_secs: float = 300.0

    def __post_init__(self) -> None:
        if self.store not in STORE_CHOICES:
            raise InvalidArgument(f"config: store must be one of {', '.join(STORE_CHOICES)}")
        for name in (
            "idle_timeout_secs",
            "vals_timeout_secs",
            "cache_ttl_secs",
            "http_timeout_secs",
            "flow_timeout_secs",
        ):
            if getattr(self, name) < 0:
                raise InvalidArgument(f"config: {name} must not be negative")

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read ``path``; a missing file means the defaults."""
        try:
            raw = read_regular(path, follow_symlinks=True)
        except UnsafeFile as exc:
            raise InvalidArgument(str(exc)) from None
        except OSError as exc:
            raise InvalidArgument(f"{path}: {exc.strerror}") from None
        if raw is None:
            return cls()
        # Imported only when there is a file: most users have none, and every activation
        # of the daemon would pay for the parser.
        import tomllib

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgument(f"{path}: {exc}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "config") -> Config:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            spec = known.get(key)
            if spec is None:
                # A newer version's key is not ours to reject, but a typo must not pass
                # unseen: say which key was ignored. Tables read by others are not unknown.
                if key not in _TABLES_READ_ELSEWHERE:
                    log.warning("%s: ignoring unknown key %s", source, key)
                continue
            default = spec.default
            if isinstance(default, tuple):
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                value = tuple(value) if ok else value
            elif isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                value = float(value) if ok else value
            else:
                ok = isinstance(value, str)
            if not ok:
                raise InvalidArgument(f"{source}: {key} has the wrong type")
            values[key] = value
        return cls(**values)
