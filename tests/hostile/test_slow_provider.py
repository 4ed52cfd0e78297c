"""A provider that trickles (#9 item 8): one overall deadline per HTTP request.

The HTTP timeout used to be per read, so a token endpoint sending a byte a second held a
refresh for 90 s. A tiny loopback server here sends its answer one byte a second, the
headers or the body; the request must fail with the named ``Timeout`` while the server
still has most of its answer to send.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from sigilforge.dbus.blocking import BlockingClient
from sigilforge.errors import Timeout
from sigilforge.oauth.http import Http
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.broker_rig import BUS_NAME, INTERFACE, OBJECT_PATH, BrokerRig
from sigilforge.testing.hostile_report import Recorder
from sigilforge.testing.signin import sign_in, write_provider

pytestmark = pytest.mark.hostile

_BODY = b'{"access_token": "' + b"t" * 120 + b'", "token_type": "Bearer"}'
_KEY = "sk-" + "S" * 40
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


class Trickler:
    """Answers each connection one byte a second (``start`` bytes at once first)."""

    def __init__(self, *, trickle_headers: bool) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._answer = (_HEAD % len(_BODY)) + _BODY
        self._at_once = 0 if trickle_headers else len(_HEAD % len(_BODY))
        self._stop = threading.Event()
        self.left_unsent: list[int] = []
        self.gone = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.recv(65536)
            sent = self._at_once
            try:
                conn.sendall(self._answer[:sent])
                while sent < len(self._answer) and not self._stop.wait(1.0):
                    conn.sendall(self._answer[sent : sent + 1])
                    sent += 1
            except OSError:
                pass  # the client hung up: what the test waits for
            self.left_unsent.append(len(self._answer) - sent)
            self.gone.set()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=10)


@pytest.fixture(params=[False, True], ids=["body", "headers"])
def trickler(request: pytest.FixtureRequest) -> Iterator[Trickler]:
    server = Trickler(trickle_headers=request.param)
    yield server
    server.close()


def test_a_trickling_token_endpoint_times_out_as_a_whole(
    trickler: Trickler, hostile_record: Recorder
) -> None:
    http = Http(timeout=2.0)
    try:
        with pytest.raises(Timeout) as got:
            http.post_form(
                f"http://127.0.0.1:{trickler.port}/token",
                {"grant_type": "x"},
                what="token endpoint",
            )
    finally:
        http.close()
    assert "did not answer in 2 s" in got.value.message
    # The client gave up, not the server: it hung up with most of the answer unsent.
    assert trickler.gone.wait(30)
    assert trickler.left_unsent, "the server never finished"
    assert trickler.left_unsent[0] > 100, trickler.left_unsent
    hostile_record(
        "slow provider",
        "trickled answer ends at the deadline",
        1,
        1,
        f"{trickler.left_unsent[0]} bytes unsent",
    )


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BrokerRig, AuthServer]]:
    with BrokerRig(tmp_path / "rig") as own, AuthServer() as server:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", own.bus.address)
        # Long enough that the other callers' answers cannot lose the race under load.
        write_provider(own.home, server, http_timeout_secs=6.0)
        own.add_api_key("openai", "work", _KEY)
        yield own, server


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_stuck_refresh_does_not_hold_up_other_callers(
    rig: tuple[BrokerRig, AuthServer], hostile_record: Recorder
) -> None:
    _, server = rig
    events: list[str] = []
    lock = threading.Lock()

    def note(event: str) -> None:
        with lock:
            events.append(event)

    setup = BlockingClient.connect(timeout=60)
    try:
        sign_in(setup, "alice")
        assert setup.get_token("openai", "work").token == _KEY  # now cached in the daemon
    finally:
        setup.close()
    refreshes = server.token_requests("refresh_token")
    server.fail_next("trickle", delay=1.0)

    def stuck() -> None:
        client = BlockingClient.connect(timeout=60)
        try:
            client.refresh_token("corp", "alice")
            note("refresh ended")
        except Timeout:
            note("refresh ended")
        finally:
            client.close()

    thread = threading.Thread(target=stuck)
    thread.start()
    try:
        _wait(lambda: server.token_requests("refresh_token") > refreshes)
        other = BlockingClient.connect(timeout=60)
        try:
            token = other.get_token("openai", "work").token
            note("cached token answered")
            names = sorted(a.account for a in other.list_accounts())
            note("list answered")
        finally:
            other.close()
    finally:
        thread.join(timeout=60)
    assert token == _KEY
    assert names == ["alice", "work"]
    assert events == ["cached token answered", "list answered", "refresh ended"]
    # It ended because the trickled request was cut at its deadline (its body alone takes
    # minutes), whether or not a retry then got a token.
    assert server.token_requests("refresh_token") in (refreshes + 1, refreshes + 2)
    hostile_record("slow provider", "others answered during a stuck refresh", 1, 1)


def test_refreshes_waiting_on_a_slow_provider_do_not_hold_up_listing(
    rig: tuple[BrokerRig, AuthServer], hostile_record: Recorder
) -> None:
    # A script that forces a refresh from several places at once: one refresh trickles
    # until its deadline and the others wait for the account's lock, each in a worker
    # thread. More of them than the daemon had workers once left ListAccounts (and every
    # cache miss) queued behind them until the slow provider gave up.
    own, server = rig
    setup = BlockingClient.connect(timeout=60)
    try:
        sign_in(setup, "alice")
    finally:
        setup.close()
    server.fail_next("trickle", delay=1.0)
    waiting = 6

    def call(member: str) -> Message:
        body = ["corp", "alice"] if member == "RefreshToken" else []
        signature = "ss" if body else ""
        return Message(
            destination=BUS_NAME,
            path=OBJECT_PATH,
            interface=INTERFACE,
            member=member,
            signature=signature,
            body=body,
        )

    async def scenario() -> tuple[Message | None, int, list[Message | None]]:
        bus = await MessageBus(bus_address=own.bus.address).connect()
        try:
            # One connection, so the daemon reads the refreshes before the listing.
            refreshes = [
                asyncio.ensure_future(bus.call(call("RefreshToken"))) for _ in range(waiting)
            ]
            listing = await asyncio.wait_for(bus.call(call("ListAccounts")), 60)
            ended = sum(r.done() for r in refreshes)
            return listing, ended, await asyncio.wait_for(asyncio.gather(*refreshes), 120)
        finally:
            bus.disconnect()

    listing, ended, refreshed = asyncio.run(scenario())
    assert listing is not None
    assert listing.message_type is MessageType.METHOD_RETURN, listing.body
    assert sorted(row["account"].value for row in listing.body[0]) == ["alice", "work"]
    assert ended == 0, f"ListAccounts waited for {ended} refreshes of a slow provider"
    # The trickled one failed at its deadline (or was retried); the others then refreshed.
    assert len(refreshes_ok(refreshed)) >= waiting - 1
    hostile_record("slow provider", f"listing answered while {waiting} refreshes wait on one", 1, 1)


def refreshes_ok(replies: list[Message | None]) -> list[Message]:
    return [r for r in replies if r is not None and r.message_type is MessageType.METHOD_RETURN]
