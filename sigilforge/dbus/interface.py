"""The shipped interface XML, read once: the only description of our D-Bus API.

The service and both clients take their method and signal signatures and argument names
from here, so the interface cannot drift from the file distributions install. Parsed on
first use with expat (a fraction of a millisecond to import, unlike ElementTree's ~8 ms),
because ``sigilforge get-token`` reads its call signature here too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sigilforge.dbus.shipped import INTERFACE_XML, read

__all__ = [
    "Arg",
    "Member",
    "annotate",
    "in_signature",
    "member",
    "members",
    "property_spec",
    "signatures_source",
]

F = TypeVar("F", bound=Callable[..., Any])


# Plain slotted classes: a NamedTuple or dataclass costs a millisecond or more to define,
# paid on every ``sigilforge get-token``.
class Arg:
    __slots__ = ("name", "type")

    def __init__(self, name: str, type: str) -> None:
        self.name = name
        self.type = type


class Member:
    """A method, or a ``signal`` (whose arguments are all in ``out_args``)."""

    __slots__ = ("in_args", "name", "out_args", "signal")

    def __init__(
        self, name: str, in_args: tuple[Arg, ...], out_args: tuple[Arg, ...], *, signal: bool
    ) -> None:
        self.name = name
        self.in_args = in_args
        self.out_args = out_args
        self.signal = signal

    @property
    def in_signature(self) -> str:
        return "".join(a.type for a in self.in_args)

    @property
    def out_signature(self) -> str:
        return "".join(a.type for a in self.out_args)


class _Interface:
    __slots__ = ("members", "properties")

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        # name -> (type, annotations)
        self.properties: dict[str, tuple[str, dict[str, str]]] = {}


@functools.cache
def _parsed() -> dict[str, _Interface]:
    from xml.parsers import expat

    interfaces: dict[str, _Interface] = {}
    current: _Interface | None = None
    # The member or property being read: its tag, name and what has been seen of it.
    open_tag = ""
    open_name = ""
    ins: list[Arg] = []
    outs: list[Arg] = []
    notes: dict[str, str] = {}
    prop_type = ""

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current, open_tag, open_name, prop_type
        if tag == "interface":
            current = interfaces.setdefault(attrs["name"], _Interface())
        elif current is not None and tag in ("method", "signal", "property"):
            open_tag, open_name, prop_type = tag, attrs["name"], attrs.get("type", "")
            ins.clear()
            outs.clear()
            notes.clear()
        elif tag == "arg" and open_tag in ("method", "signal"):
            arg = Arg(attrs.get("name", ""), attrs["type"])
            # A signal's arguments are all "out" (sent by the object).
            incoming = open_tag == "method" and attrs.get("direction", "in") == "in"
            (ins if incoming else outs).append(arg)
        elif tag == "annotation" and open_tag == "property":
            notes[attrs["name"]] = attrs.get("value", "")

    def end(tag: str) -> None:
        nonlocal current, open_tag
        if current is None:
            return
        if tag == "interface":
            current = None
        elif tag == open_tag == "property":
            current.properties[open_name] = (prop_type, dict(notes))
            open_tag = ""
        elif tag == open_tag:
            current.members[open_name] = Member(
                open_name, tuple(ins), tuple(outs), signal=tag == "signal"
            )
            open_tag = ""

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(read(INTERFACE_XML), True)
    return interfaces


def _interface(name: str) -> _Interface:
    try:
        return _parsed()[name]
    except KeyError:
        raise LookupError(f"{name} is not in {INTERFACE_XML}") from None


def members(interface: str) -> dict[str, Member]:
    """Every method and signal of ``interface`` in the shipped XML, by name."""
    return _interface(interface).members


def member(interface: str, name: str) -> Member:
    return members(interface)[name]


def property_spec(interface: str, name: str) -> tuple[str, dict[str, str]]:
    """A property's type and annotations."""
    prop = _interface(interface).properties.get(name)
    if prop is None:
        raise LookupError(f"{interface}.{name} is not in {INTERFACE_XML}")
    return prop


def in_signature(interface: str, name: str) -> str:
    """The signature a call of method ``name`` sends."""
    return member(interface, name).in_signature


SIGNATURES_MODULE = "signatures.py"


def signatures_source() -> str:
    """The text of ``sigilforge/dbus/signatures.py``: every method's in-signature, from
    the XML, for the CLI's client, which must not parse the XML on every run.
    ``python -m sigilforge.dbus.interface`` writes it; a test checks it is current."""
    lines = [
        f'"""Generated from {INTERFACE_XML} by',
        "``python -m sigilforge.dbus.interface``: do not edit (a test compares it with the XML).",
        "",
        "What a call of each method sends, for the CLI's client: parsing the XML on every",
        "``sigilforge get-token`` cost more than the call.",
        '"""',
        "",
        "IN_SIGNATURES: dict[str, dict[str, str]] = {",
    ]
    for interface, parsed in sorted(_parsed().items()):
        lines.append(f'    "{interface}": {{')
        lines += [
            f'        "{name}": "{m.in_signature}",'
            for name, m in sorted(parsed.members.items())
            if not m.signal
        ]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def annotate(interface: str, name: str) -> Callable[[F], F]:
    """Give a handler the D-Bus types of the XML's ``name``, for dbus-fast's decorators
    (which read signatures from annotations; a plain signature string is accepted).

    The handler's parameters must be named as the XML's in-arguments: a drift fails at
    import, not on the bus.
    """
    m = member(interface, name)
    # A signal handler takes the values the signal carries and returns them.
    args = m.out_args if m.signal else m.in_args

    def apply(fn: F) -> F:
        params = list(fn.__code__.co_varnames[1 : fn.__code__.co_argcount])
        if params != [a.name for a in args]:
            raise TypeError(f"{fn.__qualname__}{params} does not match {interface}.{name}")
        fn.__annotations__ = {a.name: a.type for a in args} | {"return": m.out_signature}
        return fn

    return apply


if __name__ == "__main__":
    import os

    with open(os.path.join(os.path.dirname(__file__), SIGNATURES_MODULE), "w") as out:
        out.write(signatures_source())
