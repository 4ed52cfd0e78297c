"""How big each argument of a call to the broker may be, checked before any work.

A caller sets the size of every string it sends: unbounded, one 100 MB ``Resolve`` took
the daemon to 1.5 GB, and the memory stayed. The message hook (``service.py``) asks
``Limits.complaint`` of every call to our object before it looks in the cache, decodes
options or wakes the thread pool, and answers ``InvalidArgs`` when an argument is too
big. The table names the arguments of the shipped XML: an argument the XML declares and
the table does not bound (or a name the XML no longer has) fails when the daemon starts,
not on the bus.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbus_fast import Variant

from sigilforge.dbus.interface import members
from sigilforge.model import ACCOUNT_MAX, API_KEY_MAX, SERVICE_MAX

__all__ = ["ARGUMENTS", "OPTION_VALUES", "Limits", "other_complaint"]

# Per in-argument of the XML (by name): the most characters in a string, or the most
# entries in a dictionary. Numbers and booleans need none.
ARGUMENTS: dict[str, int] = {
    "service": SERVICE_MAX,
    "account": ACCOUNT_MAX,
    # auth://SERVICE/ACCOUNT/FIELD is ~200 characters at most; a vals: reference names a
    # path in a vault, still far below this.
    "reference": 4096,
    # AddAccount's a{sv}: entries; each is bounded by OPTION_KEY_MAX and OPTION_VALUES.
    "options": 32,
}

OPTION_KEY_MAX = 64
# Per AddAccount option: the most characters in its string, or items in its array and
# characters in each item. Any other (a boolean or a number, or an unknown name or wrong
# type, which ``options.parse_add_options`` then refuses by name) gets OPTION_KEY_MAX.
OPTION_VALUES: dict[str, int] = {
    "scopes": 256,
    "flow": 16,
    "api_key": API_KEY_MAX,
    "provider": SERVICE_MAX,
    "handle_token": 64,
}

# Any other call to our objects (Properties, Introspectable, Peer) carries only names.
OTHER_MAX = 255

# Types whose values have no size worth bounding.
_FIXED = set("ybnqiuxtdh")
# Types whose value arrives as one str.
_STRINGS = ("s", "o", "g")


class Limits:
    """The table applied to the methods of one interface of the shipped XML."""

    def __init__(self, interface: str) -> None:
        # Per method: (position in the body, name, limit, whether it is a plain string).
        self._rules: dict[str, tuple[tuple[int, str, int, bool], ...]] = {}
        bounded: set[str] = set()
        for name, spec in members(interface).items():
            if spec.signal:
                continue
            rules = []
            for i, arg in enumerate(spec.in_args):
                if set(arg.type) <= _FIXED:
                    continue
                if arg.name not in ARGUMENTS:
                    raise LookupError(f"{interface}.{name}({arg.name}) has no size limit")
                rules.append((i, arg.name, ARGUMENTS[arg.name], arg.type in _STRINGS))
                bounded.add(arg.name)
            self._rules[name] = tuple(rules)
        stale = set(ARGUMENTS) - bounded
        if stale:
            raise LookupError(f"size limits for arguments {interface} lacks: {sorted(stale)}")

    def complaint(self, member: str, body: list[Any]) -> str | None:
        """Why this call's arguments are too big, or None. ``body`` has the signature of
        the XML (the hook checked that first)."""
        for i, name, limit, plain in self._rules.get(member, ()):
            value = body[i]
            # Every call pays for this check: a plain string, the common case, is one len().
            if plain:
                if len(value) <= limit:
                    continue
            elif name == "options":
                why = _options_complaint(value, limit)
                if not why:
                    continue
                return f"{member}: {why}"
            elif _within(value, limit):
                continue
            return f"{member}: {name} is longer than {limit} characters"
        return None


def other_complaint(member: str | None, body: list[Any]) -> str | None:
    """The same for a standard interface's call to our objects."""
    if _within(body, OTHER_MAX):
        return None
    return f"{member}: an argument is longer than {OTHER_MAX} characters"


def _options_complaint(options: Mapping[str, Variant], limit: int) -> str | None:
    if len(options) > limit:
        return f"more than {limit} options"
    for key, variant in options.items():
        if len(key) > OPTION_KEY_MAX:
            return f"an option name is longer than {OPTION_KEY_MAX} characters"
        most = OPTION_VALUES.get(key, OPTION_KEY_MAX)
        if not _within(variant.value, most):
            return f"option {key} is longer than {most}"
    return None


def _within(value: Any, limit: int) -> bool:
    """Whether every string in ``value`` has at most ``limit`` characters and every array
    or dictionary at most ``limit`` entries; stops at the first that does not."""
    if isinstance(value, (str, bytes)):
        return len(value) <= limit
    if isinstance(value, Variant):
        return _within(value.value, limit)
    if isinstance(value, (list, tuple)):
        return len(value) <= limit and all(_within(v, limit) for v in value)
    if isinstance(value, dict):
        return len(value) <= limit and all(
            _within(k, limit) and _within(v, limit) for k, v in value.items()
        )
    return True
