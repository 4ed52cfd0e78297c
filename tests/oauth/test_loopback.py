"""The loopback listener on its own, over real HTTP: the flow learns of the callback only
once the browser has its page, so a CLI that ends right after never cuts the page off."""

from __future__ import annotations

import logging
import socket
import struct
import subprocess
import threading

import httpx2
import pytest

from sigilforge.oauth import loopback
from sigilforge.oauth.loopback import LoopbackListener


@pytest.mark.parametrize(
    ("answer", "shown"), [("code=c", "Signed in"), ("error=access_denied", "not completed")]
)
def test_waiter_wakes_only_once_the_browser_has_its_page(
    monkeypatch: pytest.MonkeyPatch, answer: str, shown: str
) -> None:
    # Hold the page back as a loaded machine can (the handler thread not scheduled).
    writing = threading.Event()
    release = threading.Event()
    real_page = loopback._Handler._page

    def held_page(handler: loopback._Handler, status: int, title: str, text: str) -> None:
        writing.set()
        release.wait(10)
        real_page(handler, status, title, text)

    monkeypatch.setattr(loopback._Handler, "_page", held_page)
    pages: list[httpx2.Response] = []
    with LoopbackListener("st") as listener:
        url = f"{listener.redirect_uri}?state=st&{answer}"
        browser = threading.Thread(target=lambda: pages.append(httpx2.get(url, timeout=10)))
        browser.start()
        assert writing.wait(10)
        # The callback has arrived but its page is not sent: a waiter told now would
        # end the CLI, and with it the page, under the browser.
        assert listener.wait(0) is None
        release.set()
        callback = listener.wait(10)
        browser.join(10)
    assert callback is not None
    assert callback.params == dict(p.split("=") for p in ["state=st", answer])
    assert pages[0].status_code == 200
    assert shown in pages[0].text


def _reset_connection(port: int) -> None:
    """A client that sends half a request and then resets (SO_LINGER 0 sends RST)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /callback?state=")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _listen_backlog(port: int) -> int:
    # For a listening socket, ss shows the accept backlog in the Send-Q column.
    done = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=10, check=True
    )
    return int(done.stdout.split()[2])


def test_client_resets_leave_no_traceback_and_backlog_takes_a_flood(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sigilforge.oauth.loopback")
    with LoopbackListener("st") as listener:
        assert _listen_backlog(listener.port) >= 64
        for _ in range(20):
            _reset_connection(listener.port)
        # The listener still answers the browser after the flood of resets.
        page = httpx2.get(f"{listener.redirect_uri}?state=st&code=c", timeout=10)
        assert page.status_code == 200
        assert listener.wait(10) is not None
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "Exception occurred during processing" not in out + err
