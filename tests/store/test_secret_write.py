"""``create_item`` against a scripted connection: the replies a real gnome-keyring never
gives here (a prompt) and the one-round-trip promise. The real service is in
``test_secret_service.py`` and the store contract tests."""

from __future__ import annotations

from typing import Any

from jeepney import Message, new_error, new_method_return
from secretstorage.dhcrypto import Session

from sigilforge.store.secret_write import create_item

COLLECTION = "/org/freedesktop/secrets/aliases/default"


class Scripted:
    """Answers each method call with the next scripted reply; records the calls."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[str] = []

    def send_and_get_reply(self, msg: Message) -> Message:
        self.calls.append(msg.header.fields[3])  # the member
        reply = self.replies.pop(0)
        return reply(msg)


def _plain_session() -> Session:
    session = Session()
    session.object_path = "/org/freedesktop/secrets/session/1"
    session.encrypted = False
    return session


def test_one_round_trip_when_the_service_takes_it() -> None:
    conn = Scripted(lambda m: new_method_return(m, "oo", ("/item/1", "/")))
    assert create_item(conn, _plain_session(), COLLECTION, "l", {"a": "b"}, b"s")
    assert conn.calls == ["CreateItem"]


def test_locked_reply_means_locked() -> None:
    locked = "org.freedesktop.Secret.Error.IsLocked"
    conn = Scripted(lambda m: new_error(m, locked, "s", ("locked",)))
    assert not create_item(conn, _plain_session(), COLLECTION, "l", {"a": "b"}, b"s")


def test_a_prompt_is_dismissed_never_waited_on() -> None:
    conn = Scripted(
        lambda m: new_method_return(m, "oo", ("/", "/org/freedesktop/secrets/prompt/p1")),
        lambda m: new_method_return(m),
    )
    assert not create_item(conn, _plain_session(), COLLECTION, "l", {"a": "b"}, b"s")
    assert conn.calls == ["CreateItem", "Dismiss"]
