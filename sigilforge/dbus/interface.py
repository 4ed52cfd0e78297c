"""The shipped interface XML, read once: the only description of our D-Bus API.

The service takes its method and signal signatures and argument names from here, so
the interface cannot drift from the file distributions install. Standard library only
(ElementTree); parsed on first use.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sigilforge.dbus.shipped import INTERFACE_XML, read

__all__ = ["Arg", "Member", "annotate", "member", "members", "property_spec"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Member:
    """A method, or a ``signal`` (whose arguments are all in ``out_args``)."""

    name: str
    in_args: tuple[Arg, ...]
    out_args: tuple[Arg, ...]
    signal: bool = False

    @property
    def in_signature(self) -> str:
        return "".join(a.type for a in self.in_args)

    @property
    def out_signature(self) -> str:
        return "".join(a.type for a in self.out_args)


@functools.cache
def _root() -> ET.Element:
    return ET.fromstring(read(INTERFACE_XML))  # noqa: S314 - our own packaged file


def _interface(name: str) -> ET.Element:
    for iface in _root().iter("interface"):
        if iface.get("name") == name:
            return iface
    raise LookupError(f"{name} is not in {INTERFACE_XML}")


@functools.cache
def members(interface: str) -> dict[str, Member]:
    """Every method and signal of ``interface`` in the shipped XML, by name."""
    iface = _interface(interface)
    found: dict[str, Member] = {}
    for el in (*iface.findall("method"), *iface.findall("signal")):
        ins: list[Arg] = []
        outs: list[Arg] = []
        for a in el.findall("arg"):
            arg = Arg(a.get("name", ""), a.get("type", ""))
            # A signal's arguments are all "out" (sent by the object).
            incoming = el.tag == "method" and a.get("direction", "in") == "in"
            (ins if incoming else outs).append(arg)
        found[el.get("name", "")] = Member(
            el.get("name", ""), tuple(ins), tuple(outs), signal=el.tag == "signal"
        )
    return found


def member(interface: str, name: str) -> Member:
    return members(interface)[name]


def property_spec(interface: str, name: str) -> tuple[str, dict[str, str]]:
    """A property's type and annotations."""
    for prop in _interface(interface).findall("property"):
        if prop.get("name") == name:
            notes = {a.get("name", ""): a.get("value", "") for a in prop.findall("annotation")}
            return prop.get("type", ""), notes
    raise LookupError(f"{interface}.{name} is not in {INTERFACE_XML}")


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
