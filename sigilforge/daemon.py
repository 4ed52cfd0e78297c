"""``sigilforge-daemon``: the per-user broker on the session bus.

Started by D-Bus activation (or systemd, ``Type=dbus``) on the first call; exits by
itself after ``--idle-timeout`` seconds without calls (``idle_timeout_secs`` in
``config.toml``; 0 never), on SIGTERM/SIGINT, or at once with status 0 if another broker
owns the name. Logs go to stderr, which is the journal under systemd; they carry
account names and error codes, never a secret.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from sigilforge.broker import Broker


def _import_without_openssl(meanwhile: Callable[[], None]) -> None:
    # OpenSSL costs an idle daemon ~3.5 MB of RSS (libcrypto) and start-up ~7 ms, for
    # nothing it needs before an HTTPS refresh: asyncio imports ssl for TLS transports
    # the daemon's loop never uses (it speaks to the bus over a Unix socket), and
    # hashlib/hmac load _hashlib where Python's own SHA-2 serves the one key derivation
    # of the Secret Service session (its AES loads libcrypto alone, at the first read).
    # So these are imported with OpenSSL hidden; HTTPS, in worker threads, imports ssl
    # (and with it OpenSSL) itself when first needed.
    # Called first thing in ``run``: a process that merely imports this module (an
    # embedder, the tests) keeps its usual modules. ``meanwhile`` runs once hashlib is
    # in, before asyncio (what it starts gets the whole import to overlap).
    hidden = [name for name in ("ssl", "_hashlib") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # its import raises ImportError
    try:
        import hashlib  # noqa: F401
        import hmac  # noqa: F401

        meanwhile()
        import asyncio  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


def _read_ahead() -> None:
    from sigilforge.store import read_ahead

    # The first token's Secret Service session opens while the rest of us loads.
    read_ahead.start()


__all__ = ["main", "run"]

log = logging.getLogger("sigilforge.daemon")

_GC_AFTER = 2.0


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="sigilforge-daemon",
        description="Serve org.sigilforge.Broker1 on the D-Bus session bus.",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this long without calls (default: config.toml, else 300; 0: never)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more; repeat for debug"
    )
    return parser


def _parse(argv: list[str]) -> tuple[float | None, int]:
    """``(idle_timeout, verbose)``. Activation passes at most these plain forms; argparse
    (and the gettext lookups it makes) is loaded only for anything else: help, errors."""
    idle_timeout: float | None = None
    verbose = 0
    rest = iter(argv)
    try:
        for arg in rest:
            if arg == "--idle-timeout":
                idle_timeout = float(next(rest))
            elif arg.startswith("--idle-timeout="):
                idle_timeout = float(arg.partition("=")[2])
            elif arg == "--verbose":
                verbose += 1
            elif len(arg) > 1 and arg.strip("v") == "-":
                verbose += len(arg) - 1
            else:
                raise ValueError(arg)
    except (ValueError, StopIteration):
        args = _parser().parse_args(argv)
        return args.idle_timeout, args.verbose
    return idle_timeout, verbose


def _setup_logging(verbose: int) -> None:
    # journald stamps each line itself; a terminal gets the time from us.
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{stamp}sigilforge-daemon: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if not os.environ.get("JOURNAL_STREAM"):
        # Started by dbus-daemon itself, stderr goes wherever the session sends it (often
        # nowhere a user looks): errors also go to the file the error replies name.
        _add_error_file(root)
    root.setLevel(logging.WARNING)
    # Only our own loggers get louder: library debug output may dump message bodies.
    logging.getLogger("sigilforge").setLevel(logging.INFO - 10 * min(verbose, 1))


def _add_error_file(root: logging.Logger) -> None:
    handler = _ErrorFile()
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(asctime)s sigilforge-daemon: %(message)s"))
    root.addHandler(handler)


class _ErrorFile(logging.Handler):
    """Appends each error to the log file, created (0600) only when there is one: a
    daemon that has nothing to report leaves no file behind."""

    def emit(self, record: logging.LogRecord) -> None:
        from sigilforge import paths

        try:
            path = paths.log_file()
            paths.ensure_private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(self.format(record) + "\n")
        except (OSError, ValueError):
            pass  # stderr has it already; a broken log file must not break the daemon


def run(argv: list[str] | None = None) -> int:
    # Start-up allocates many long-lived objects (modules, classes) and the collector
    # would walk them over and over; it comes back on once the first calls are served.
    gc.disable()
    from sigilforge.hardening import harden_process

    harden_process()  # before any secret is read
    _import_without_openssl(_read_ahead)
    import asyncio

    idle_timeout, verbose = _parse(sys.argv[1:] if argv is None else argv)
    if idle_timeout is not None and idle_timeout < 0:
        print("sigilforge-daemon: --idle-timeout must not be negative", file=sys.stderr)
        return 2
    _setup_logging(verbose)
    from sigilforge.dbus.errors import Unreachable

    try:
        return asyncio.run(_serve(idle_timeout))
    except KeyboardInterrupt:
        return 0
    except Unreachable as exc:
        # A user ran it by hand outside a session: one line they can act on.
        print(f"sigilforge-daemon: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:
        from sigilforge.dbus.errors import describe_unexpected

        log.error("daemon failed: %s", describe_unexpected(exc))
        return 1


async def _serve(idle_timeout: float | None) -> int:
    import asyncio

    from sigilforge.dbus.server import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.call_later(_GC_AFTER, _collect_and_enable)
    await serve(_open_broker, stop=stop, idle_timeout=idle_timeout)
    return 0


def _open_broker() -> Broker:
    from sigilforge.broker import Broker
    from sigilforge.store import read_ahead

    try:
        # Refreshes run in child processes: killing the daemon never loses a rotated token.
        return Broker.open(keep_unsaved=True, isolate_refresh=True)
    finally:
        # Its store took the session opened ahead, or it never will (another store
        # configured, or no broker): then it is closed.
        read_ahead.discard()


def _collect_and_enable() -> None:
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: leave it out of later passes
    gc.enable()


def main() -> None:
    sys.exit(run())
