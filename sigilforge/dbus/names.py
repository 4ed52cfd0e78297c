"""Every name the D-Bus API is known by, in one place. The version is in each of them."""

from __future__ import annotations

__all__ = [
    "BUS_NAME",
    "CALL_TIMEOUT",
    "DBUS_INTERFACE",
    "DBUS_NAME",
    "DBUS_PATH",
    "ERROR_PREFIX",
    "INTERFACE",
    "INVALID_ARGS",
    "OBJECT_PATH",
    "PEER_INTERFACE",
    "PROPERTIES_INTERFACE",
    "REQUEST_INTERFACE",
    "REQUEST_ROOT",
    "request_path",
]

BUS_NAME = "org.sigilforge.Broker1"
INTERFACE = "org.sigilforge.Broker1"
OBJECT_PATH = "/org/sigilforge/Broker1"
ERROR_PREFIX = "org.sigilforge.Broker1.Error."
# The one standard error we use: freedesktop clients already know what it means.
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"

# The message bus itself and the standard interfaces every object has.
DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
DBUS_INTERFACE = "org.freedesktop.DBus"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
PEER_INTERFACE = "org.freedesktop.DBus.Peer"

# How long a client waits for a reply: long enough for activation plus a token refresh
# over a slow network, short enough that a wedged daemon does not hang a script forever.
CALL_TIMEOUT = 60.0

# AddAccount hands back a Request object here (the xdg-desktop-portal pattern).
REQUEST_INTERFACE = "org.sigilforge.Broker1.Request"
REQUEST_ROOT = "/org/sigilforge/Broker1/request"

_TOKEN_PATTERN = r"[A-Za-z0-9_]{1,64}"


def sender_part(unique_name: str) -> str:
    """``:1.42`` -> ``1_42``: a unique bus name as one object path element."""
    return unique_name.lstrip(":").replace(".", "_")


def valid_handle_token(token: str) -> bool:
    import re  # here: the CLI imports this module on every run and needs no regex

    return bool(re.fullmatch(_TOKEN_PATTERN, token))


def request_path(unique_name: str, handle_token: str) -> str:
    """Where the Request object of a caller's AddAccount lives. A caller that picks the
    token can subscribe to ``Response`` on this path before it calls."""
    return f"{REQUEST_ROOT}/{sender_part(unique_name)}/{handle_token}"
