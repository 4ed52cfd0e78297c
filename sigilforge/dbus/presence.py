"""Whether the broker daemon runs now, and its PID, asked of the bus itself.

Only the bus driver is called (``NameHasOwner``, ``GetConnectionUnixProcessID``), so
asking never activates the daemon.
"""

from __future__ import annotations

from jeepney import new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from sigilforge.dbus.errors import lost_session_bus, no_session_bus
from sigilforge.dbus.names import BUS_NAME

__all__ = ["daemon_pid"]

_TIMEOUT = 5.0


def daemon_pid() -> int | None:
    """The running daemon's PID, None when none runs; ``Unreachable`` without a bus."""
    try:
        conn = open_dbus_connection("SESSION", auth_timeout=_TIMEOUT)
    except (OSError, KeyError, ValueError, TimeoutError) as exc:
        raise no_session_bus(exc) from None
    try:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(BUS_NAME), timeout=_TIMEOUT)
        if not reply.body[0]:
            return None
        msg = new_method_call(message_bus, "GetConnectionUnixProcessID", "s", (BUS_NAME,))
        reply = conn.send_and_get_reply(msg, timeout=_TIMEOUT)
        # An error reply (the owner left in between) has a string body.
        pid = reply.body[0] if reply.body else None
        return pid if isinstance(pid, int) else None
    except (OSError, TimeoutError) as exc:
        raise lost_session_bus(exc) from None
    finally:
        conn.close()
