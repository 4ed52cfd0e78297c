"""The running service exports exactly the interface XML we ship, documented."""

from __future__ import annotations

from sigilforge.errors import ERRORS, InvalidArgument
from sigilforge.testing.broker_rig import BUS_NAME, OBJECT_PATH, BrokerRig
from tests.dbus.introspection import SHIPPED, members, undocumented


def test_the_running_service_introspects_as_the_shipped_xml(broker_rig: BrokerRig) -> None:
    done = broker_rig.run(
        "gdbus",
        "introspect",
        "--session",
        "--dest",
        BUS_NAME,
        "--object-path",
        OBJECT_PATH,
        "--xml",
    )
    assert done.returncode == 0, done.stderr
    running = members(done.stdout, "org.sigilforge.Broker1")
    shipped = members(SHIPPED.read_text(), "org.sigilforge.Broker1")
    assert running == shipped


def test_every_member_of_the_shipped_xml_has_a_doc_comment() -> None:
    assert undocumented(SHIPPED.read_text()) == []


def test_every_error_name_is_documented_in_the_xml() -> None:
    text = SHIPPED.read_text()
    assert "org.freedesktop.DBus.Error.InvalidArgs" in text
    assert "org.sigilforge.Broker1.Error.<Name>" in text
    for cls in ERRORS:
        if cls is not InvalidArgument:
            assert f"\n    {cls.code} " in text, cls.code


def test_error_codes_are_unique() -> None:
    codes = [cls.code for cls in ERRORS]
    assert len(codes) == len(set(codes))
