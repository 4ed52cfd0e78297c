"""The method returns the daemon encodes itself (cached tokens) are, byte for byte, what
dbus-fast's marshaller makes of the same reply: every client reads them the same way."""

from __future__ import annotations

import pytest
from dbus_fast import Message

from sigilforge.dbus.replies import encode_method_return, token_body


@pytest.mark.parametrize("sender", [":1.5", ":1.57", ":1.1234567", "org.example.Caller", None])
@pytest.mark.parametrize(
    ("token", "expires_at"),
    [
        ("sk-bench-0000-0123456789abcdef", 0),
        ("", -1),
        ("a" * 3, 2**63 - 1),
        ("a" * 4, 1),
        ("a" * 11, 1_700_000_000),
        ("ünïcode-ツ", 5),
    ],
)
def test_a_token_reply_is_what_dbus_fast_would_send(
    sender: str | None, token: str, expires_at: int
) -> None:
    call = Message(
        destination="org.sigilforge.Broker1",
        path="/org/sigilforge/Broker1",
        interface="org.sigilforge.Broker1",
        member="GetToken",
        signature="ss",
        body=["openai", "work"],
        serial=4_000_000_001,
        sender=sender,
    )
    reference = Message.new_method_return(call, "sx", [token, expires_at])
    reference.serial = 77
    ours = encode_method_return(77, call.serial, sender, "sx", token_body(token, expires_at))
    assert ours == bytes(reference._marshall(False))
