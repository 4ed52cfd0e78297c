"""The method returns the daemon encodes itself (cached tokens) are, byte for byte, what
dbus-fast's marshaller makes of the same reply: every client reads them the same way."""

from __future__ import annotations

import asyncio
import socket

import pytest
from dbus_fast import Message

from sigilforge.dbus.replies import Replies, encode_method_return, token_body


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
    call = _call(4_000_000_001, sender)
    reference = Message.new_method_return(call, "sx", [token, expires_at])
    reference.serial = 77
    ours = encode_method_return(77, call.serial, sender, "sx", token_body(token, expires_at))
    assert ours == bytes(reference._marshall(False))


class _Bus:
    """What ``Replies`` uses of dbus-fast's bus: serials, and the bytes it is given."""

    connected = True

    def __init__(self) -> None:
        self.serial = 100
        self.written: list[bytes] = []

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def send(self, msg: Message) -> None:
        self.written.append(bytes(msg._marshall(False)))


def _call(serial: int, sender: str | None) -> Message:
    return Message(
        destination="org.sigilforge.Broker1",
        path="/org/sigilforge/Broker1",
        interface="org.sigilforge.Broker1",
        member="GetToken",
        signature="ss",
        body=["openai", "work"],
        serial=serial,
        sender=sender,
    )


def _reference(call: Message, serial: int, token: str, expires_at: int) -> bytes:
    reply = Message.new_method_return(call, "sx", [token, expires_at])
    reply.serial = serial
    return bytes(reply._marshall(False))


def _replies(confirm: bool) -> tuple[_Bus, Replies, list[int], list[Message]]:
    bus = _Bus()
    asked: list[int] = []
    redone: list[Message] = []

    def check(epoch: int) -> bool:
        asked.append(epoch)
        return confirm

    return bus, Replies(bus, check, redone.append), asked, redone  # type: ignore[arg-type]


def test_replies_of_one_turn_go_out_as_dbus_fast_would_write_them() -> None:
    async def scenario() -> tuple[_Bus, list[int]]:
        bus, replies, asked, _ = _replies(confirm=True)
        calls = [_call(7, ":1.5"), _call(8, ":1.57"), _call(9, ":1.5"), _call(10, ":1.5")]
        replies.send_token(calls[0], "sk-one", 0, 3)
        replies.send_token(calls[1], "sk-one", 0, 3)
        replies.send_token(calls[2], "sk-two", 1_700_000_000, 3)
        replies.send_token(calls[3], "sk-one", 0, None)  # read for this call: not held
        assert bus.written == []  # nothing before the turn ends
        await asyncio.sleep(0)
        return bus, asked

    bus, asked = asyncio.run(scenario())
    assert asked == [3], "one look at accounts.json for the whole turn"
    calls = [_call(7, ":1.5"), _call(8, ":1.57"), _call(9, ":1.5"), _call(10, ":1.5")]
    # The answer read for its call first, then the held ones, each with its own serial.
    assert bus.written == [
        _reference(calls[3], 104, "sk-one", 0)
        + _reference(calls[0], 101, "sk-one", 0)
        + _reference(calls[1], 102, "sk-one", 0)
        + _reference(calls[2], 103, "sk-two", 1_700_000_000)
    ]


def test_answers_from_memory_are_not_sent_when_accounts_json_changed_meanwhile() -> None:
    async def scenario() -> tuple[_Bus, list[Message]]:
        bus, replies, _, redone = _replies(confirm=False)
        replies.send_token(_call(7, ":1.5"), "sk-stale", 0, 3)
        replies.send_token(_call(8, ":1.6"), "sk-fresh", 0, None)
        await asyncio.sleep(0)
        return bus, redone

    bus, redone = asyncio.run(scenario())
    assert [c.serial for c in redone] == [7]
    assert b"sk-stale" not in b"".join(bus.written)
    assert bus.written == [_reference(_call(8, ":1.6"), 102, "sk-fresh", 0)]


def test_a_turn_that_saw_two_versions_sends_none_of_its_answers_from_memory() -> None:
    async def scenario() -> tuple[_Bus, list[Message]]:
        bus, replies, _, redone = _replies(confirm=True)
        replies.send_token(_call(7, ":1.5"), "sk-old", 0, 3)
        replies.send_token(_call(8, ":1.5"), "sk-new", 0, 4)
        await asyncio.sleep(0)
        return bus, redone

    bus, redone = asyncio.run(scenario())
    assert [c.serial for c in redone] == [7, 8]
    assert bus.written == []


def test_replies_to_the_calls_of_one_read_go_out_as_that_read_ends() -> None:
    """Not a turn of the loop later: that wake-up per read cost 16 callers ~5% of their
    calls. Run on asyncio's own loop, so a change there that turns this off is seen."""

    async def scenario() -> tuple[list[int], bool]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        bus = _Bus()
        bus._fd = ours.fileno()  # type: ignore[attr-defined]
        seen_by_next_callback: list[int] = []
        read = asyncio.Event()

        def reader() -> None:
            ours.recv(64)
            # Queued before the replies: with them sent at the next turn, it runs first.
            loop.call_soon(lambda: seen_by_next_callback.append(len(bus.written)))
            replies.send_token(_call(7, ":1.5"), "sk-one", 0, 3)
            replies.send_token(_call(8, ":1.6"), "sk-one", 0, None)
            loop.call_soon(read.set)

        loop.add_reader(ours.fileno(), reader)
        replies = Replies(bus, lambda epoch: True, lambda call: None)  # type: ignore[arg-type]
        try:
            theirs.send(b"calls")
            await asyncio.wait_for(read.wait(), 5)
        finally:
            loop.remove_reader(ours.fileno())
            ours.close()
            theirs.close()
        return seen_by_next_callback, replies.flushes_with_reads

    seen, follows_reads = asyncio.run(scenario())
    assert follows_reads
    assert seen == [1], "both replies in one send, before anything queued during the read"
