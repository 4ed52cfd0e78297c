"""Every test rig the benchmark uses, imported here and nowhere else in ``bench/``.

The rigs (private dbus-daemon, headless gnome-keyring, the broker's activation file)
are ``sigilforge.testing``'s, shared with the tests and the demo.
"""

from __future__ import annotations

from sigilforge.dbus.names import BUS_NAME, INTERFACE, OBJECT_PATH
from sigilforge.testing.broker_rig import BrokerRig, cli_command, daemon_command

__all__ = ["BUS_NAME", "INTERFACE", "OBJECT_PATH", "BrokerRig", "cli_command", "daemon_command"]
