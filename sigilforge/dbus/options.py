"""AddAccount's ``a{sv}`` options, checked and turned into ``AddOptions``.

Takes ``name -> (signature, value)`` so it does not care which D-Bus library unpacked
the message. An unknown name or a wrong type is ``InvalidArgument`` (``InvalidArgs`` on
the bus): a caller's typo must fail loudly, not start a flow with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigilforge.errors import InvalidArgument
from sigilforge.model import AddOptions, Flow

__all__ = ["OPTION_SIGNATURES", "ParsedOptions", "options_to_wire", "parse_add_options"]

OPTION_SIGNATURES: dict[str, str] = {
    "scopes": "as",
    "flow": "s",
    "api_key": "s",
    "open_browser": "b",
    "provider": "s",
    "handle_token": "s",
    "timeout": "u",
}


@dataclass(frozen=True, slots=True)
class ParsedOptions:
    options: AddOptions
    handle_token: str | None


def parse_add_options(raw: Mapping[str, tuple[str, Any]]) -> ParsedOptions:
    values: dict[str, Any] = {}
    for name, (signature, value) in raw.items():
        expected = OPTION_SIGNATURES.get(name)
        if expected is None:
            known = ", ".join(sorted(OPTION_SIGNATURES))
            raise InvalidArgument(f"unknown option {name[:40]!r} (known: {known})")
        if signature != expected:
            raise InvalidArgument(f"option {name} must have type {expected!r}, not {signature!r}")
        values[name] = value
    flow: Flow | None = None
    if "flow" in values:
        try:
            flow = Flow(values["flow"])
        except ValueError:
            choices = ", ".join(f.value for f in Flow)
            raise InvalidArgument(f"option flow must be one of {choices}") from None
    timeout = values.get("timeout")
    options = AddOptions(
        flow=flow,
        scopes=tuple(values.get("scopes", ())),
        api_key=values.get("api_key"),
        open_browser=bool(values.get("open_browser", True)),
        provider=values.get("provider") or None,
        timeout=float(timeout) if timeout else None,
    )
    return ParsedOptions(options, values.get("handle_token"))


def options_to_wire(options: AddOptions, handle_token: str | None) -> dict[str, tuple[str, Any]]:
    """The inverse, for clients: only what differs from the defaults is sent."""
    wire: dict[str, tuple[str, Any]] = {}
    if options.flow is not None:
        wire["flow"] = ("s", options.flow.value)
    if options.scopes:
        wire["scopes"] = ("as", list(options.scopes))
    if options.api_key is not None:
        wire["api_key"] = ("s", options.api_key)
    if not options.open_browser:
        wire["open_browser"] = ("b", False)
    if options.provider:
        wire["provider"] = ("s", options.provider)
    if options.timeout:
        wire["timeout"] = ("u", max(1, round(options.timeout)))
    if handle_token:
        wire["handle_token"] = ("s", handle_token)
    return wire
