"""The environment a real client (git, msmtp, mbsync) runs ``sigilforge`` in.

Clients run their helpers with the environment they were given: this one puts the
installed ``sigilforge`` and ``git-credential-sigilforge`` first on ``PATH`` and carries
the test home's XDG dirs and private bus, so the helper finds the same accounts and
keyring as the test, and nothing of the developer's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from sigilforge.testing.env import XDG_VARS

__all__ = ["sigilforge_env"]


def sigilforge_env(
    base: Mapping[str, str], *, client_path: str = "/usr/bin:/bin", daemon: bool = False
) -> dict[str, str]:
    """``daemon``: through the broker daemon on ``base``'s bus (activated if need be);
    otherwise the in-process broker, with no daemon to activate."""
    bindir = os.path.dirname(sys.executable)
    env = {
        k: base[k] for k in (*XDG_VARS, "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS") if k in base
    }
    env["PATH"] = f"{bindir}{os.pathsep}{client_path}"
    if not daemon:
        env["SIGILFORGE_NO_DAEMON"] = "1"
    return env
