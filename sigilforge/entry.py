"""The ``sigilforge`` command's entry point: a fast path, then the full CLI.

``sigilforge get-token SERVICE ACCOUNT``, ``sigilforge resolve REF`` and ``sigilforge
list-accounts [--json]`` are what scripts run in loops, so in their plain form they go
straight to the daemon with one blocking call, importing neither click, the model nor
the broker (list-accounts prints through ``sigilforge.view``, as the full CLI does).
Anything else, and any failure to reach a daemon, goes to the full CLI in
``sigilforge.cli`` (which falls back and says so).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every run
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["main"]

_EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    code = _fast_path(args)
    if code is not None:
        sys.exit(code)
    from sigilforge.cli import main as full_cli

    full_cli(args)


def _format_options(args: list[str]) -> tuple[str, str | None] | None:
    """``--format F [--user U]`` exactly as mail clients' configs spell it, else None."""
    if len(args) == 2 and args[0] == "--format":
        return args[1], None
    if len(args) == 4 and args[0] == "--format" and args[2] == "--user":
        return args[1], args[3]
    return None


def _fast_path(args: list[str]) -> int | None:
    """The exit status, or None to leave the command to the full CLI."""
    if os.environ.get("SIGILFORGE_NO_DAEMON"):
        return None
    if args in (["list-accounts"], ["list-accounts", "--json"]):
        return _answer(args, lambda: _list_accounts(as_json=len(args) == 2))
    fmt: tuple[str, str | None] | None = None
    if len(args) >= 3 and args[0] == "get-token":
        member = "GetToken"
        if len(args) > 3:
            fmt = _format_options(args[3:])
            if fmt is None or fmt[0].startswith("-") or (fmt[1] or "").startswith("-"):
                return None
    elif len(args) == 2 and args[0] == "resolve":
        member = "Resolve"
    else:
        return None
    if any(arg.startswith("-") for arg in args[1:3]):
        return None  # options or --help: click's business
    return _answer(args, lambda: _print_value(member, args[1:3], fmt))


def _answer(args: list[str], work: Callable[[], None]) -> int | None:
    """Runs ``work`` (one call, then its output) with the full CLI's error handling;
    None if there is no daemon to ask."""
    from sigilforge.dbus.errors import Unreachable
    from sigilforge.errors import SigilforgeError

    try:
        work()
    except Unreachable:
        return None
    except SigilforgeError as exc:
        from sigilforge._advice import with_advice

        print(f"sigilforge: {with_advice(exc, args)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sigilforge: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except Exception as exc:
        # As the full CLI does: no traceback on the terminal, the details in a private log.
        from sigilforge.cli.app import report_unexpected

        return report_unexpected(exc)
    return 0


def _print_value(member: str, body: list[str], fmt: tuple[str, str | None] | None) -> None:
    from sigilforge.dbus.blocking import call_once_whole

    reply = call_once_whole(member, *body)
    value = reply[0] if fmt is None else _render(fmt, reply)
    sys.stdout.write(f"{value}\n")
    sys.stdout.flush()


def _list_accounts(*, as_json: bool) -> None:
    from sigilforge.dbus.blocking import account_rows_once
    from sigilforge.view import print_accounts

    print_accounts(account_rows_once(), as_json=as_json)


def _render(fmt: tuple[str, str | None], reply: tuple[object, ...]) -> str:
    from sigilforge.errors import InvalidArgument
    from sigilforge.formats import TokenFormat, render
    from sigilforge.model import AccessToken

    try:
        chosen = TokenFormat(fmt[0])
    except ValueError:
        known = ", ".join(f.value for f in TokenFormat)
        raise InvalidArgument(f"--format is one of {known}") from None
    token, expires_at = reply
    assert isinstance(token, str)
    assert isinstance(expires_at, int)
    return render(chosen, AccessToken(token, expires_at or None), fmt[1])
