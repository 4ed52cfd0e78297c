"""``sigilforge status [--json]``: what a user checks when something does not work.

Per account: kind, expiry, status and last refresh; whether the daemon runs (and its
PID), read from the bus without starting it; the secret store and whether it is locked;
the files in use. The exit status is non-zero when something needs the user: the store's
(4) when it is locked or missing, else 5 when an account must sign in again.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

import click

from sigilforge.cli.app import cli
from sigilforge.errors import SigilforgeError, StoreError

__all__ = ["status"]

EXIT_STORE = 4
EXIT_REAUTH = 5


def _daemon() -> dict[str, Any]:
    from sigilforge.dbus.errors import Unreachable
    from sigilforge.dbus.presence import daemon_pid

    try:
        pid = daemon_pid()
    except Unreachable as exc:
        return {"running": False, "pid": None, "bus": exc.message}
    return {"running": pid is not None, "pid": pid, "bus": "ok"}


def _files() -> dict[str, str]:
    from sigilforge import paths

    return {
        "config": str(paths.config_file()),
        "providers": str(paths.providers_file()),
        "accounts": str(paths.accounts_file()),
        "log": str(paths.log_file()),
    }


def collect() -> tuple[dict[str, Any], int]:
    """The report, and the exit status it calls for."""
    from sigilforge.broker import Broker

    report: dict[str, Any] = {"daemon": _daemon(), "files": _files(), "accounts": []}
    code = 0
    with Broker.open() as broker:
        store: dict[str, Any] = {"backend": broker.config.store, "state": "ok"}
        try:
            broker.check_store()
        except StoreError as exc:
            store["state"] = "locked" if exc.code == "StoreLocked" else "unavailable"
            store["message"] = exc.message
            code = EXIT_STORE
        report["store"] = store
        for acc in broker.list_accounts():
            entry = acc.to_dict()
            entry["last_refresh"] = None
            if store["state"] == "ok" and acc.kind.value == "oauth2":
                # On failure the status field already says what is wrong with it.
                with contextlib.suppress(SigilforgeError):
                    entry["last_refresh"] = broker.last_refreshed(acc.service, acc.account)
            if entry["status"] != "ok" and code == 0:
                code = EXIT_REAUTH
            report["accounts"].append(entry)
    return report, code


def _when(stamp: object) -> str:
    if not isinstance(stamp, int) or stamp <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def status(as_json: bool) -> None:
    """Accounts, daemon, secret store and files; exits non-zero when something needs you."""
    report, code = collect()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        sys.exit(code)
    daemon = report["daemon"]
    if daemon["running"]:
        click.echo(f"daemon: running (pid {daemon['pid']})")
    else:
        bus = "" if daemon["bus"] == "ok" else f" ({daemon['bus']})"
        click.echo(f"daemon: not running; the next call starts it{bus}")
    store = report["store"]
    click.echo(f"store: {store['backend']}, {store['state']}")
    if "message" in store:
        click.echo(f"  {store['message']}")
    for name, path in report["files"].items():
        click.echo(f"{name}: {path}")
    if not report["accounts"]:
        click.echo("accounts: none (sigilforge add-account SERVICE ACCOUNT)")
    for a in report["accounts"]:
        click.echo(
            f"{a['service']}/{a['account']}: {a['kind']}, {a['status']},"
            f" expires {_when(a.get('expires_at'))}, last refresh {_when(a['last_refresh'])}"
        )
        if a["status"] == "reauth_required":
            click.echo(f"  sign in again: sigilforge add-account {a['service']} {a['account']}")
    sys.exit(code)
