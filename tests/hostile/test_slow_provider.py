"""A provider that trickles (#9 item 8): one overall deadline per HTTP request.

The HTTP timeout used to be per read, so a token endpoint sending a byte a second held a
refresh for 90 s. A tiny loopback server here sends its answer one byte a second, the
headers or the body; the request must fail with the named ``Timeout`` while the server
still has most of its answer to send.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from sigilforge.errors import Timeout
from sigilforge.oauth.http import Http
from sigilforge.testing.hostile_report import Recorder

pytestmark = pytest.mark.hostile

_BODY = b'{"access_token": "' + b"t" * 120 + b'", "token_type": "Bearer"}'
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
    assert trickler.left_unsent and trickler.left_unsent[0] > 100, trickler.left_unsent
    hostile_record(
        "slow provider",
        "trickled answer ends at the deadline",
        1,
        1,
        f"{trickler.left_unsent[0]} bytes unsent",
    )
