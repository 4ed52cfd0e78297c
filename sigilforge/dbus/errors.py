"""The one boundary between ``sigilforge.errors`` and D-Bus error replies.

Both directions live here so the service and both clients agree by construction:
each class crosses as ``org.sigilforge.Broker1.Error.<code>`` and comes back as the same
class; ``InvalidArgument`` crosses as the standard ``InvalidArgs``. Anything that is not
a ``SigilforgeError`` becomes ``Failed`` with a fixed short text: its message might hold
anything, a secret included, so only the daemon's log sees it.
"""

from __future__ import annotations

import os

from sigilforge.dbus.names import ERROR_PREFIX, INVALID_ARGS
from sigilforge.errors import (
    ERRORS,
    InvalidArgument,
    SigilforgeError,
    describe_unexpected,
    error_for_code,
)

__all__ = [
    "UNEXPECTED_MESSAGE",
    "Unreachable",
    "describe_unexpected",
    "error_from_reply",
    "error_name",
    "lost_session_bus",
    "no_session_bus",
    "reply_for",
    "unexpected_message",
]

UNEXPECTED_MESSAGE = "internal error in the broker; details are in its log"


def unexpected_message() -> str:
    """``UNEXPECTED_MESSAGE`` and where that log is, as the daemon knows it: the journal
    under systemd, else the file it writes its errors to (``daemon._setup_logging``)."""
    if os.environ.get("INVOCATION_ID") or os.environ.get("JOURNAL_STREAM"):
        return f"{UNEXPECTED_MESSAGE}: journalctl --user -u sigilforge"
    from sigilforge import paths

    return f"{UNEXPECTED_MESSAGE}: {paths.log_file()}"


def no_session_bus(exc: BaseException) -> Unreachable:
    """What connecting to the session bus failed on, in a user's words (never the
    library's class name: a user can act on the variable or the path, not on a
    ``KeyError``)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        why = "DBUS_SESSION_BUS_ADDRESS is not set"
    elif isinstance(exc, OSError) and exc.strerror:
        why = f"{exc.strerror.lower()} at {address[:120]}"
    elif isinstance(exc, TimeoutError):
        why = f"no answer at {address[:120]}"
    else:
        why = f"cannot use DBUS_SESSION_BUS_ADDRESS={address[:120]}"
    return Unreachable(f"no D-Bus session bus ({why})")


def lost_session_bus(exc: BaseException) -> Unreachable:
    why = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else "it closed"
    return Unreachable(f"lost the session bus ({why})")


_MAX_MESSAGE = 300

# Bus errors meaning "no broker there to ask" (as opposed to a broker saying no): the
# CLI falls back to the in-process library on these, and only on these.
_UNREACHABLE = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Spawn.",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.systemd1.",
)


class Unreachable(SigilforgeError):
    """No broker daemon could be reached on the session bus."""


def error_name(cls: type[SigilforgeError]) -> str:
    if cls is InvalidArgument:
        return INVALID_ARGS
    return ERROR_PREFIX + cls.code


def reply_for(exc: BaseException) -> tuple[str, str]:
    """The (error name, message) to send for ``exc``."""
    if isinstance(exc, SigilforgeError):
        return error_name(type(exc) if type(exc) in ERRORS else _known_base(exc)), _short(
            exc.message
        )
    return error_name(SigilforgeError), unexpected_message()


def _known_base(exc: SigilforgeError) -> type[SigilforgeError]:
    # A subclass defined elsewhere (a provider's own error, say) crosses as its code.
    return error_for_code(exc.code)


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def error_from_reply(name: str, message: str) -> SigilforgeError:
    """The exception a client raises for an error reply it got."""
    if name.startswith(_UNREACHABLE):
        return Unreachable(f"{name.rsplit('.', 1)[-1]}: {message}"[:_MAX_MESSAGE])
    if name == INVALID_ARGS:
        return InvalidArgument(message)
    if name.startswith(ERROR_PREFIX):
        return error_for_code(name.removeprefix(ERROR_PREFIX))(message)
    # A bus-level error (no such method, a timeout of the bus itself, ...).
    return SigilforgeError(f"{name}: {message}" if message else name)
