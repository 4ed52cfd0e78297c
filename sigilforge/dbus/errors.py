"""The one boundary between ``sigilforge.errors`` and D-Bus error replies.

Both directions live here so the service and both clients agree by construction:
each class crosses as ``org.sigilforge.Broker1.Error.<code>`` and comes back as the same
class; ``InvalidArgument`` crosses as the standard ``InvalidArgs``. Anything that is not
a ``SigilforgeError`` becomes ``Failed`` with a fixed short text: its message might hold
anything, a secret included, so only the daemon's log sees it.
"""

from __future__ import annotations

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
    "reply_for",
]

UNEXPECTED_MESSAGE = "internal error in the broker; details are in its log"

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
    return error_name(SigilforgeError), UNEXPECTED_MESSAGE


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
