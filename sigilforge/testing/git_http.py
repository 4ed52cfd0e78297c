"""Git smart HTTP on loopback that lets in only an account's OAuth 2.0 token.

Real ``git http-backend`` (CGI) behind a small threaded HTTP server on ``127.0.0.1``.
Every request must carry HTTP Basic credentials whose password is an access token that
the authorization server, asked by RFC 7662 introspection, calls active and issued to the
repository's owner, and whose user name is that owner; anything else gets ``401`` with
``WWW-Authenticate: Basic``, so a real ``git`` asks its credential helper, as it does with
a forge. ``attempts`` records who tried what and whether it was let in.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Attempt", "GitHttpServer", "git_client_env"]

_CGI_TIMEOUT = 60.0
_BODY_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Attempt:
    path: str
    username: str | None  # None: no Basic credentials at all
    allowed: bool


@dataclass
class GitHttpServer:
    """``with GitHttpServer(auth.issuer + "/introspect") as git:`` then
    ``url = git.add_repo("alice/project.git", owner="alice")``."""

    introspection_url: str
    parent: Path | None = None
    introspection_timeout: float = 10.0
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.introspection_url).scheme not in ("http", "https"):
            raise ValueError(f"introspection_url is not http(s): {self.introspection_url}")
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}
        self._server: _Server | None = None
        self._root: Path | None = None
        # Loopback only: an environment proxy must never see a token.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> GitHttpServer:
        self._root = Path(tempfile.mkdtemp(prefix="sigilforge-git-", dir=self.parent))
        (self.root / "repos").mkdir()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.rig = self
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> Path:
        assert self._root is not None, "not started"
        return self._root

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- repositories -------------------------------------------------------------------

    def add_repo(self, path: str, *, owner: str, files: dict[str, str] | None = None) -> str:
        """A bare repository at ``path`` (``org/name.git``) with one commit on ``main``
        holding ``files``; only ``owner``'s token opens it. Returns its clone URL."""
        rel = Path(path)
        if rel.is_absolute() or ".." in rel.parts or not path.endswith(".git"):
            raise ValueError(f"not a relative repository path ending in .git: {path}")
        bare = self.root / "repos" / rel
        work = self.root / "work" / rel
        work.mkdir(parents=True)
        for name, text in (files or {"README": f"{path}\n"}).items():
            (work / name).write_text(text)
        env = git_client_env(self.root / "home", {"PATH": os.environ.get("PATH", "")})
        identity = ["-c", "user.name=Rig", "-c", "user.email=rig@example.test"]
        for args in (
            ["init", "-q", "-b", "main", str(work)],
            ["-C", str(work), "add", "-A"],
            ["-C", str(work), *identity, "commit", "-q", "-m", "initial"],
            ["clone", "-q", "--bare", str(work), str(bare)],
        ):
            subprocess.run(["git", *args], env=env, check=True, capture_output=True, timeout=30)
        with self._lock:
            self._owners["/" + rel.as_posix()] = owner
        return f"{self.base_url}/{rel.as_posix()}"

    def head(self, path: str) -> str:
        """The commit ``main`` points at in the served repository."""
        bare = self.root / "repos" / path
        out = subprocess.run(
            ["git", "--git-dir", str(bare), "rev-parse", "refs/heads/main"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip()

    # -- the gate -------------------------------------------------------------------------

    def _owner_of(self, url_path: str) -> str | None:
        with self._lock:
            for repo, owner in self._owners.items():
                if url_path == repo or url_path.startswith(repo + "/"):
                    return owner
        return None

    def _token_owner(self, token: str) -> str | None:
        """The ``username`` introspection names for an active token, else None."""
        # The scheme was checked in __post_init__: http(s) only, never file:.
        request = urllib.request.Request(  # noqa: S310
            self.introspection_url,
            data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with self._opener.open(request, timeout=self.introspection_timeout) as answer:
            reply = json.loads(answer.read())
        if not isinstance(reply, dict) or reply.get("active") is not True:
            return None
        name = reply.get("username")
        return name if isinstance(name, str) else None

    def _admit(self, url_path: str, header: str) -> tuple[str | None, bool]:
        owner = self._owner_of(url_path)
        creds = _basic(header)
        if creds is None or owner is None:
            return (creds[0] if creds else None), False
        user, token = creds
        allowed = user == owner and self._token_owner(token) == owner
        return user, allowed

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)


def git_client_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for a ``git`` client that reads no system or user config but
    ``home``'s, never prompts on a terminal and uses no proxy."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in (os.environ if base is None else base).items() if not _proxy(k)}
    for name in ("GIT_ASKPASS", "SSH_ASKPASS", "GIT_CONFIG_GLOBAL", "XDG_CONFIG_HOME"):
        env.pop(name, None)
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        NO_PROXY="*",
        no_proxy="*",
    )
    return env


def _proxy(name: str) -> bool:
    return name.lower() in ("http_proxy", "https_proxy", "all_proxy")


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    rig: GitHttpServer


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = _CGI_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        rig = self.server.rig
        parts = urllib.parse.urlsplit(self.path)
        try:
            body = self._body()
        except ValueError:
            self.close_connection = True
            self._plain(413, "request body unreadable or too large\n")
            return
        try:
            user, allowed = rig._admit(parts.path, self.headers.get("Authorization", ""))
        except (OSError, ValueError):
            self._plain(503, "introspection failed\n")
            return
        rig._record(Attempt(parts.path, user, allowed))
        if not allowed:
            self._plain(401, "token required\n", {"WWW-Authenticate": 'Basic realm="sigilforge"'})
            return
        self._cgi(parts, body, user or "")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)  # the empty trailer line
                    return b"".join(chunks)
                total += size
                if total > _BODY_LIMIT:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _BODY_LIMIT:
            raise ValueError("request body too large")
        return self.rfile.read(length)

    def _cgi(self, parts: urllib.parse.SplitResult, body: bytes, user: str) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.rig.root / "repos"),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(parts.path),
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HOME": str(self.server.rig.root / "home"),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        done = subprocess.run(
            ["git", "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            timeout=_CGI_TIMEOUT,
            check=False,
        )
        head, sep, payload = done.stdout.partition(b"\r\n\r\n")
        if not sep:
            self._plain(500, "git http-backend said nothing usable\n")
            return
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ", 1)[0])
            elif name:
                headers[name.strip()] = value.strip()
        self._send(status, payload, headers)

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, text.encode(), {"Content-Type": "text/plain", **(headers or {})})

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
