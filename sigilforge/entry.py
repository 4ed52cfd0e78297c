"""The ``sigilforge`` command's entry point: a fast path, then the full CLI.

``sigilforge get-token SERVICE ACCOUNT`` and ``sigilforge resolve REF`` are what scripts
run in loops, so in their plain form they go straight to the daemon with one blocking
call, importing neither click nor the broker. Anything else, and any failure to reach a
daemon, goes to the full CLI in ``sigilforge.cli`` (which falls back and says so).
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]

_EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    code = _fast_path(args)
    if code is not None:
        sys.exit(code)
    from sigilforge.cli import main as full_cli

    full_cli(args)


def _fast_path(args: list[str]) -> int | None:
    """The exit status, or None to leave the command to the full CLI."""
    if os.environ.get("SIGILFORGE_NO_DAEMON"):
        return None
    if len(args) == 3 and args[0] == "get-token":
        member = "GetToken"
    elif len(args) == 2 and args[0] == "resolve":
        member = "Resolve"
    else:
        return None
    if any(arg.startswith("-") for arg in args[1:]):
        return None  # options or --help: click's business

    from sigilforge.dbus.blocking import call_once
    from sigilforge.dbus.errors import Unreachable
    from sigilforge.errors import SigilforgeError

    try:
        value = call_once(member, *args[1:])
    except Unreachable:
        return None
    except SigilforgeError as exc:
        print(f"sigilforge: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sigilforge: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    sys.stdout.write(f"{value}\n")
    sys.stdout.flush()
    return 0
