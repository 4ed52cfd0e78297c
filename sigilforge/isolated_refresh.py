"""One refresh transaction in a short-lived child process, so the daemon's death loses nothing.

From "the provider rotated the refresh token" to "the store holds the new token set", the
only live refresh token is in the memory of the process that asked. Signals that can be
deferred are (``refresh_guard``); a SIGKILL, a crash or the OOM killer cannot be. The
daemon is the process most likely to meet one (it runs for hours, and a user or a test
kills it), so it does not hold the token itself: each refresh runs in a child,

    sys.executable -P -m sigilforge.refresh_child SERVICE ACCOUNT due|forced STALE
                                                   [--wait S] [--keep-unsaved]

(``STALE``: a short digest of the access token the daemon found due, never a secret; no
secret in argv or the environment), in its own session (``start_new_session``), so a
signal to the daemon's process group does not reach it and it outlives the daemon. The
child does the whole in-process refresh with a broker of its own (the account's file
lock, a re-read under it, deferred SIGTERM/SIGINT/SIGHUP, the in-flight marker, the fault
pause, save and read back, ``accounts.json``) and answers with one JSON line on stdout: a
``RefreshReport``. A daemon killed meanwhile costs nothing: the child saves and exits
(it ignores EPIPE on the answer).

The report carries what the daemon needs to act as if it had refreshed itself: whether
the store holds a newer grant, the events to emit (``TokenRefreshed``, ``ReauthRequired``:
names and times only), the reason an account was marked for re-auth, the Retry-After wait
still to run, and the error (its code, the message as redacted in the child, ``transient``,
``retry_after``). One case carries a secret over the pipe: a token set the store refused
(locked) goes back to the daemon, which keeps it in memory and saves it when it can
(``TokenManager(keep_unsaved=True)``); if the daemon is gone by then, the in-flight marker
reports the loss at the next call.

The daemon waits for the answer at most ``time_limit`` (longer than the account lock
wait plus every HTTP deadline of a refresh), reaps the child (no zombies), and turns a
child that ended without an answer into a named error (``Failed``) for the caller; its
marker, if it had set one, stays and the next call verifies the stored refresh token.
At the time limit the child gets SIGTERM, which it defers until it has saved and answered.

Under systemd (``KillMode=control-group``, the default) a stop sends SIGTERM to the
child too: it defers it until the token set is saved and read back and its answer
written, then exits of it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sigilforge.errors import (
    InvalidArgument,
    ProviderError,
    RemoteError,
    SigilforgeError,
    Timeout,
    error_for_code,
)
from sigilforge.events import AccountAdded, AccountRemoved, Event, ReauthRequired, TokenRefreshed
from sigilforge.model import TokenSet

__all__ = [
    "CHILD_MODULE",
    "ChildRefresh",
    "RefreshReport",
    "RefreshRequest",
    "answer",
    "decode_report",
    "encode_report",
    "request_from_argv",
    "request_to_argv",
]

log = logging.getLogger(__name__)

CHILD_MODULE = "sigilforge.refresh_child"
# How often a waiting thread looks whether the daemon is closing.
_POLL = 0.25
# After SIGTERM at the time limit: how long to wait before leaving the child to a reaper.
_TERM_GRACE = 5.0
_EVENTS: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (TokenRefreshed, ReauthRequired, AccountAdded, AccountRemoved)
}


@dataclass(frozen=True)
class RefreshRequest:
    """What the child is asked to do. Names, a flag, a digest and a wait: no secret."""

    service: str
    account: str
    forced: bool
    stale: str  # digest of the access token the caller found due (``tokens.fingerprint``)
    wait: float | None = None  # seconds a provider's Retry-After still forbids a request
    keep_unsaved: bool = False  # the caller keeps a token set the store refuses


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did, as the process that ran it saw it."""

    refreshed: bool = False
    events: tuple[Event, ...] = ()
    wait: float | None = None
    reauth: str | None = None  # why the account was marked reauth_required, if it was
    unsaved: TokenSet | None = field(default=None, repr=False)
    error: SigilforgeError | None = None


def request_to_argv(request: RefreshRequest) -> list[str]:
    argv = [
        request.service,
        request.account,
        "forced" if request.forced else "due",
        request.stale,
    ]
    if request.wait is not None:
        argv += ["--wait", f"{request.wait:.3f}"]
    if request.keep_unsaved:
        argv.append("--keep-unsaved")
    return argv


def request_from_argv(argv: list[str]) -> RefreshRequest:
    try:
        service, account, mode, stale, *rest = argv
        wait: float | None = None
        keep_unsaved = False
        options = iter(rest)
        for option in options:
            if option == "--wait":
                wait = float(next(options))
            elif option == "--keep-unsaved":
                keep_unsaved = True
            else:
                raise ValueError(option)
        if mode not in ("due", "forced"):
            raise ValueError(mode)
    except (ValueError, StopIteration):
        raise InvalidArgument(
            "usage: refresh_child SERVICE ACCOUNT due|forced STALE [--wait S] [--keep-unsaved]"
        ) from None
    return RefreshRequest(service, account, mode == "forced", stale, wait, keep_unsaved)


# -- the answer on the pipe -------------------------------------------------------------------


def encode_report(report: RefreshReport) -> str:
    """The report as one JSON line (a secret only in ``unsaved``)."""
    body: dict[str, Any] = {
        "refreshed": report.refreshed,
        "events": [[type(e).__name__, *_fields(e)] for e in report.events],
        "wait": report.wait,
        "reauth": report.reauth,
        "unsaved": None if report.unsaved is None else report.unsaved.to_json(),
        "error": None if report.error is None else _encode_error(report.error),
    }
    return json.dumps(body, separators=(",", ":")) + "\n"


def decode_report(line: str) -> RefreshReport:
    """The report in ``line``; ``ValueError`` if it is not one."""
    try:
        body = json.loads(line)
        events = tuple(_EVENTS[name](*args) for name, *args in body["events"])
        unsaved = body["unsaved"]
        error = body["error"]
        wait = body["wait"]
        return RefreshReport(
            refreshed=bool(body["refreshed"]),
            events=events,
            wait=None if wait is None else float(wait),
            reauth=None if body["reauth"] is None else str(body["reauth"]),
            unsaved=None if unsaved is None else TokenSet.from_json(unsaved),
            error=None if error is None else _decode_error(error),
        )
    except (ValueError, KeyError, TypeError, AttributeError, SigilforgeError):
        raise ValueError("not a refresh report") from None


def _fields(event: Event) -> list[Any]:
    return [getattr(event, f.name) for f in dataclasses.fields(event)]


def _encode_error(exc: SigilforgeError) -> dict[str, Any]:
    remote = exc if isinstance(exc, RemoteError) else None
    return {
        "code": exc.code,
        "message": exc.message,
        "transient": None if remote is None else remote.transient,
        "retry_after": None if remote is None else remote.retry_after,
        "oauth_error": getattr(exc, "error", None),
    }


def _decode_error(body: dict[str, Any]) -> SigilforgeError:
    cls = error_for_code(str(body["code"]))
    message = str(body["message"])
    exc: SigilforgeError
    if issubclass(cls, ProviderError):
        exc = ProviderError(message, error=body["oauth_error"], transient=bool(body["transient"]))
    else:
        exc = cls(message)
    if isinstance(exc, RemoteError):
        if body["transient"] is not None:
            exc.transient = bool(body["transient"])
        if body["retry_after"] is not None:
            exc.retry_after = float(body["retry_after"])
    return exc


# -- the daemon's side ---------------------------------------------------------------------------


class ChildRefresh:
    """Runs each refresh in a child process and hands back its report.

    ``time_limit``: the longest a refresh may take (lock wait and HTTP deadlines
    included); ``close`` makes threads still waiting give up at once (the children go
    on and finish by themselves)."""

    def __init__(self, time_limit: float) -> None:
        self.time_limit = time_limit
        self._closing = threading.Event()

    def close(self) -> None:
        self._closing.set()

    def run(self, request: RefreshRequest) -> RefreshReport:
        what = f"the refresh of {request.service}/{request.account}"
        if self._closing.is_set():
            raise SigilforgeError(f"{what} was not started: the broker is closing")
        try:
            proc = subprocess.Popen(
                # -P: the package the interpreter has installed, never one that happens
                # to sit in the daemon's working directory.
                [sys.executable, "-P", "-m", CHILD_MODULE, *request_to_argv(request)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                # Its log lines go where ours go (the journal, or the daemon's stderr).
                stderr=None,
                # Not in our process group: a signal to the daemon's group (a terminal's
                # Ctrl-C, a kill of the group) leaves it to finish its save.
                start_new_session=True,
                text=True,
            )
        except OSError as exc:
            raise SigilforgeError(f"{what} could not start a process: {exc.strerror}") from None
        deadline = time.monotonic() + self.time_limit
        while True:
            try:
                out, _ = proc.communicate(timeout=min(_POLL, max(deadline - time.monotonic(), 0)))
                break
            except subprocess.TimeoutExpired:
                if self._closing.is_set():
                    _reap_later(proc)
                    raise SigilforgeError(
                        f"{what} goes on in its own process; the broker is closing"
                    ) from None
                if time.monotonic() >= deadline:
                    # SIGTERM waits in the child until a rotated token set is saved.
                    proc.terminate()
                    _reap_later(proc, grace=_TERM_GRACE)
                    raise Timeout(
                        f"{what} did not finish in {self.time_limit:g} s; it was stopped"
                    ) from None
        lines = [line for line in out.splitlines() if line.strip()]
        if lines:
            try:
                return decode_report(lines[-1])
            except ValueError:
                log.warning("%s answered something that is not a refresh report", what)
        how = (
            f"was killed by {signal.Signals(-proc.returncode).name}"
            if proc.returncode < 0
            else f"exited with status {proc.returncode}"
        )
        log.warning("%s ended without an answer: its process %s", what, how)
        raise SigilforgeError(
            f"{what} ended without an answer (its process {how}); "
            "the next call checks the stored tokens"
        )


def _reap_later(proc: subprocess.Popen[str], grace: float | None = None) -> None:
    """Wait for ``proc`` in a thread of its own, so it never lingers as a zombie."""

    def reap() -> None:
        if proc.stdout is not None:
            proc.stdout.close()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            # Still saving after SIGTERM (a hung store): never SIGKILL a process that may
            # hold the only copy of a token; wait on, it ends by its own time limits.
            log.warning("a refresh process (pid %d) is still running after SIGTERM", proc.pid)
            proc.wait()

    threading.Thread(target=reap, name="sigilforge-reap", daemon=True).start()


def answer(report: RefreshReport) -> None:
    """The child's side: write the report to stdout; a reader gone is no error (the
    token set is saved, or the marker reports what is not)."""
    data = encode_report(report).encode()
    try:
        while data:
            data = data[os.write(sys.stdout.fileno(), data) :]
    except OSError:
        pass
