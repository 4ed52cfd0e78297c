"""Every test rig the benchmark uses, imported here and nowhere else in ``bench/``.

The rigs (private dbus-daemon, headless gnome-keyring, the broker's activation file)
are shared with the tests; when they move, only these imports change.
"""

from __future__ import annotations

from tests.support.broker_rig import (
    BUS_NAME,
    INTERFACE,
    OBJECT_PATH,
    BrokerRig,
    cli_command,
    daemon_command,
)

__all__ = ["BUS_NAME", "INTERFACE", "OBJECT_PATH", "BrokerRig", "cli_command", "daemon_command"]
