"""Reading interface XML into comparable shapes, for the tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

SHIPPED = (
    Path(__file__).parents[2] / "data" / "dbus-1" / "interfaces" / "org.sigilforge.Broker1.xml"
)


def _annotations(el: ET.Element) -> dict[str, str]:
    return {a.get("name", ""): a.get("value", "") for a in el.findall("annotation")}


def members(xml: str, interface: str) -> dict[str, Any]:
    """Every method, signal and property of ``interface``: names, argument names,
    types and directions, annotations."""
    root = ET.fromstring(xml)
    (iface,) = [i for i in root.findall("interface") if i.get("name") == interface]
    shape: dict[str, Any] = {"annotations": _annotations(iface)}
    for m in iface.findall("method"):
        args = [(a.get("name"), a.get("type"), a.get("direction", "in")) for a in m.findall("arg")]
        shape[f"method {m.get('name')}"] = (args, _annotations(m))
    for s in iface.findall("signal"):
        args = [(a.get("name"), a.get("type")) for a in s.findall("arg")]
        shape[f"signal {s.get('name')}"] = (args, _annotations(s))
    for p in iface.findall("property"):
        shape[f"property {p.get('name')}"] = (p.get("type"), p.get("access"), _annotations(p))
    return shape


def undocumented(xml: str) -> list[str]:
    """Members (and interfaces) of the XML not preceded by a comment."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.fromstring(xml, parser=parser)
    missing = []
    for iface in root.findall("interface"):
        previous: ET.Element | None = None
        for child in iface:
            if child.tag in ("method", "signal", "property"):
                documented = previous is not None and previous.tag is ET.Comment
                if not documented or not (previous.text or "").strip():
                    missing.append(f"{iface.get('name')}.{child.get('name')}")
            previous = child
    return missing
