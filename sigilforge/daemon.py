"""``sigilforge-daemon``: the per-user broker on the session bus.

Started by D-Bus activation (or systemd, ``Type=dbus``) on the first call; exits by
itself after ``--idle-timeout`` seconds without calls (``idle_timeout_secs`` in
``config.toml``; 0 never), on SIGTERM/SIGINT, or at once with status 0 if another broker
owns the name. Logs go to stderr, which is the journal under systemd; they carry
account names and error codes, never a secret.
"""

from __future__ import annotations

# Only what ``run`` needs before it turns the collector off: whatever is imported
# before that (this module's imports with it) is walked by collections as it loads.
import gc
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing first
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from sigilforge.broker import Broker


def _import_without_openssl(meanwhile: Callable[[], None]) -> None:
    # OpenSSL costs an idle daemon ~3.5 MB of RSS (libcrypto) and start-up ~7 ms, for
    # nothing it needs before an HTTPS refresh: asyncio imports ssl for TLS transports
    # the daemon's loop never uses (it speaks to the bus over a Unix socket), and
    # hashlib/hmac load _hashlib where Python's own SHA-2 serves the one key derivation
    # of the Secret Service session (its DH and AES load libcrypto alone, through ctypes).
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
    from sigilforge._daemon_log import setup_logging

    setup_logging(verbose)
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
        import logging

        from sigilforge.dbus.errors import describe_unexpected

        logging.getLogger("sigilforge.daemon").error("daemon failed: %s", describe_unexpected(exc))
        return 1


async def _serve(idle_timeout: float | None) -> int:
    import asyncio
    import signal

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
