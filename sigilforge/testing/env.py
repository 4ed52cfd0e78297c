"""An environment whose HOME and XDG_* dirs all live under one temp dir.

Set before any bus starts: an activated service inherits the bus's environment, and
would otherwise write into the real home.
"""

from __future__ import annotations

import os
from pathlib import Path

XDG_VARS = {
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
    "XDG_CACHE_HOME": ".cache",
}


def isolated_env(root: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: os.environ) pointing every per-user dir into ``root``.

    The session bus address points nowhere until a private bus is started, so nothing
    can reach the developer's own bus by accident.
    """
    env = dict(os.environ if base is None else base)
    home = root / "home"
    runtime = root / "run"
    for path in (home, runtime):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    for var, rel in XDG_VARS.items():
        (home / rel).mkdir(mode=0o700, parents=True, exist_ok=True)
        env[var] = str(home / rel)
    env["XDG_CONFIG_DIRS"] = str(root / "etc-xdg")
    env["XDG_DATA_DIRS"] = str(root / "share")
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={root}/no-bus-here"
    env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
    env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={root}/no-system-bus-here"
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("GNOME_KEYRING_CONTROL", None)
    return env
