"""The loopback listener on its own, over real HTTP: the flow learns of the callback only
once the browser has its page, so a CLI that ends right after never cuts the page off."""

from __future__ import annotations

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
