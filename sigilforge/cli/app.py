"""The ``sigilforge`` command group, its shared state, and how a run ends.

Output that scripts read is exact: ``get-token`` and ``resolve`` print the secret and a
newline, nothing else. Errors are one line on stderr and an exit status per error kind
(see ``sigilforge.errors``); a traceback never reaches the terminal, only the local log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, NoReturn

import click

from sigilforge.errors import SigilforgeError

if TYPE_CHECKING:
    from sigilforge.broker import BrokerAPI

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "State",
    "cli",
    "main",
    "pass_state",
    "report_unexpected",
]

log = logging.getLogger("sigilforge")

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class State:
    """Opens the backend on first use, so ``--help`` and usage errors cost nothing.

    The backend is the daemon over the session bus (started by D-Bus if need be); when
    no bus or daemon can be reached, the same ``Broker`` runs in this process instead,
    and the user is told once, on stderr.
    """

    def __init__(self) -> None:
        self._backend: BrokerAPI | None = None
        self.no_daemon = bool(os.environ.get("SIGILFORGE_NO_DAEMON"))

    def backend(self) -> BrokerAPI:
        if self._backend is None:
            self._backend = self._open()
        return self._backend

    def _open(self) -> BrokerAPI:
        if not self.no_daemon:
            from sigilforge.dbus.blocking import BlockingClient
            from sigilforge.dbus.errors import Unreachable

            try:
                client = BlockingClient.connect()
            except Unreachable as exc:
                reason = exc.message
            else:
                try:
                    client.ping()
                    if log.isEnabledFor(logging.INFO):
                        _say_daemon()
                    return client
                except Unreachable as exc:
                    client.close()
                    reason = exc.message
            notice = (
                f"no broker daemon reachable ({reason}); running in-process "
                "(to run it as a service: sigilforge service install)"
            )
            from sigilforge.cli.fallback import notice_due

            if log.isEnabledFor(logging.INFO) or notice_due():
                click.echo(f"sigilforge: {notice}", err=True)
        from sigilforge.broker import Broker

        broker = Broker.open()
        if log.isEnabledFor(logging.INFO):
            _say_in_process()
        return broker

    def close(self) -> None:
        if self._backend is not None:
            backend, self._backend = self._backend, None
            backend.close()


def _say_daemon() -> None:
    # -v: what this command talked to, so a user can tell which process and files answered.
    from sigilforge.dbus.control import bus_address
    from sigilforge.dbus.presence import daemon_pid

    log.info(
        "asked the broker daemon (pid %s) on the session bus %s",
        daemon_pid() or "?",
        bus_address() or "(default address)",
    )


def _say_in_process() -> None:
    from sigilforge import paths
    from sigilforge.config import Config

    store = Config.load(paths.config_file()).store
    log.info("ran the broker in this process; secret store: %s", store)
    for what, path in (
        ("accounts", paths.accounts_file()),
        ("providers", paths.providers_file()),
        ("config", paths.config_file()),
    ):
        log.info("%s: %s%s", what, path, "" if path.exists() else " (none)")


pass_state = click.make_pass_decorator(State, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sigilforge", prog_name="sigilforge")
@click.option("-v", "--verbose", count=True, help="Log more (to stderr); repeat for debug.")
@click.option(
    "--no-daemon",
    is_flag=True,
    help="Run the broker in this process instead of asking the daemon on the session bus.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, no_daemon: bool) -> None:
    """Sigilforge: OAuth2 tokens and API keys for your desktop and your scripts."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format="sigilforge: %(levelname)s: %(message)s",
    )
    state = ctx.ensure_object(State)
    state.no_daemon = state.no_daemon or no_daemon
    ctx.call_on_close(state.close)


def _fail(message: str, code: int) -> NoReturn:
    print(f"sigilforge: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        cli.main(args=args, prog_name="sigilforge", standalone_mode=False)
    except SigilforgeError as exc:
        from sigilforge._advice import with_advice

        _fail(with_advice(exc, args), exc.exit_code)
    except click.exceptions.Abort:
        _fail("interrupted", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        sys.exit(report_unexpected(exc))


def report_unexpected(exc: BaseException) -> int:
    """One line on stderr and the exit status for an error nobody foresaw."""
    from sigilforge import paths

    _log_unexpected(exc)
    print(f"sigilforge: unexpected error; details are in {paths.log_file()}", file=sys.stderr)
    return 1


def _log_unexpected(exc: BaseException) -> None:
    # Where it was raised goes to a private file, never to the terminal.
    from sigilforge import paths
    from sigilforge.errors import describe_unexpected
    from sigilforge.fileio import UnsafeFile, append_private

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    # A symlink or FIFO planted at the log's path is refused, never followed.
    with contextlib.suppress(OSError, UnsafeFile):
        append_private(paths.log_file(), f"{stamp} unexpected error: {describe_unexpected(exc)}\n")
