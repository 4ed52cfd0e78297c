"""An independent authorization server for interop tests: panva's ``oidc-provider``
(OpenID Certified), from the npm registry, run by node on loopback.

``ensure_installed(source, build)`` copies the pinned ``package.json``,
``package-lock.json`` and ``oidc_server.mjs`` from ``source`` (the repository's
``tests/interop``) and runs ``npm ci`` in ``build`` (once; later runs reuse it); it returns
None, or the reason it could not (no node or npm, the registry unreachable).
``OidcProvider(build, ttl)`` starts that server and knows its issuer; ``follow_to_app``
and ``approve_device`` are the headless user for it.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2

__all__ = ["OidcProvider", "approve_device", "ensure_installed", "follow_to_app"]

VERSION = "9.13.3"


def ensure_installed(source: Path, build: Path) -> str | None:
    """None when oidc-provider is ready under ``build``, else why it is not."""
    marker = build / "node_modules" / "oidc-provider" / "package.json"
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install nodejs)"
    build.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "oidc_server.mjs"):
        shutil.copyfile(source / name, build / name)
    if marker.exists() and f'"version": "{VERSION}"' in marker.read_text():
        return None
    try:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=build,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "npm ci timed out (is the npm registry reachable?)"
    if done.returncode != 0 or not marker.exists():
        return f"npm ci failed (is the npm registry reachable?): {done.stderr.strip()[-300:]}"
    return None


class OidcProvider:
    """``with OidcProvider(build, access_token_ttl=5) as op:`` -> ``op.issuer``."""

    client_id = "sigilforge"

    def __init__(
        self, build: Path, access_token_ttl: int = 3600, exact_redirect_uri: str | None = None
    ) -> None:
        """``exact_redirect_uri``: also register client ``sigilforge-web``, a web client
        whose redirect URI the server matches exactly, port included."""
        self.ttl = access_token_ttl
        self.exact_redirect_uri = exact_redirect_uri
        self.build = build
        self.issuer = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> OidcProvider:
        self._proc = subprocess.Popen(
            [
                "node",
                str(self.build / "oidc_server.mjs"),
                str(self.ttl),
                *([self.exact_redirect_uri] if self.exact_redirect_uri else []),
            ],
            cwd=self.build,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError("oidc-provider did not start")
        self.issuer = line
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._proc = None


def follow_to_app(authorize_url: str, *, timeout: float = 10) -> httpx2.Response:
    """A browser with cookies: follow the server's redirects (login and consent happen
    headlessly inside it) until one leaves for the app's loopback listener."""
    server = urlsplit(authorize_url).netloc
    with httpx2.Client(follow_redirects=False, timeout=timeout) as browser:
        url = authorize_url
        for _ in range(20):
            answer = browser.get(url)
            if answer.status_code not in (302, 303):
                raise AssertionError(f"{answer.status_code} at {urlsplit(url).path}")
            url = urljoin(url, answer.headers["Location"])
            if urlsplit(url).netloc != server:
                return browser.get(url)
    raise AssertionError("too many redirects")


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((named.get("action", ""), {}))
        elif tag == "input" and self.forms and named.get("name"):
            self.forms[-1][1][named["name"]] = named.get("value", "")


def approve_device(verification_uri_complete: str, *, timeout: float = 10) -> str:
    """Open the complete verification URI and submit each page's form (enter the code,
    confirm it) as a person would; the final page's text."""
    with httpx2.Client(follow_redirects=True, timeout=timeout) as browser:
        page = browser.get(verification_uri_complete)
        for _ in range(5):
            parser = _Forms()
            parser.feed(page.text)
            if not parser.forms:
                return page.text
            action, fields = parser.forms[0]
            page = browser.post(urljoin(str(page.url), action), data=fields)
    raise AssertionError("the device pages never ended")
