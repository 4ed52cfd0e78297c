"""Asking the session bus itself to stop the broker, or to reload its configuration
(whether it runs, and its PID: ``sigilforge.dbus.presence``).

For ``sigilforge service install|uninstall|restart`` and ``-v``: the bus knows the PID
of the process that owns ``org.sigilforge.Broker1`` and its user; stopping is SIGTERM to
that process (the daemon's own clean exit), after checking it is this user's. Every
call has a time limit.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from sigilforge.dbus.errors import Unreachable, no_session_bus
from sigilforge.dbus.names import BUS_NAME, CALL_TIMEOUT

__all__ = ["bus_address", "reload_bus_config", "stop_daemon"]

_DBUS = DBusAddress(
    "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
)
_STOP_WAIT = 10.0


def bus_address() -> str:
    return os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")


def _connect() -> DBusConnection:
    try:
        return open_dbus_connection("SESSION", auth_timeout=5.0)
    except (OSError, KeyError, ValueError, TimeoutError) as exc:
        raise no_session_bus(exc) from None


def _ask(conn: DBusConnection, member: str, signature: str | None = None, *body: Any) -> Any:
    """The reply's first value, or None for an error reply (no such name, say)."""
    msg = new_method_call(_DBUS, member, signature, body)
    try:
        reply = conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT)
    except (OSError, TimeoutError):
        raise Unreachable("the session bus did not answer") from None
    if reply.header.message_type is MessageType.error:
        return None
    return reply.body[0] if reply.body else True


def reload_bus_config() -> bool:
    """``org.freedesktop.DBus.ReloadConfig``: dbus-broker (Fedora, Arch) may not see a new
    per-user service file until asked. False when there is no bus to ask."""
    try:
        conn = _connect()
    except Unreachable:
        return False
    try:
        return _ask(conn, "ReloadConfig") is not None
    finally:
        conn.close()


def stop_daemon(*, wait: float = _STOP_WAIT) -> int | None:
    """Stop the running daemon; its PID, or None if none ran (or no bus)."""
    try:
        conn = _connect()
    except Unreachable:
        return None
    try:
        pid = _ask(conn, "GetConnectionUnixProcessID", "s", BUS_NAME)
        uid = _ask(conn, "GetConnectionUnixUser", "s", BUS_NAME)
        if pid is None:
            return None
        if uid is not None and int(uid) != os.getuid():
            raise Unreachable(f"{BUS_NAME} is owned by another user's process ({pid})")
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            return int(pid)
        deadline = time.monotonic() + wait
        # The name is released when the daemon has exited (or is about to).
        while _ask(conn, "NameHasOwner", "s", BUS_NAME):
            if time.monotonic() > deadline:
                raise Unreachable(f"the broker daemon (pid {pid}) did not exit in {wait:g} s")
            time.sleep(0.05)
        return int(pid)
    finally:
        conn.close()
