"""``daemon`` and ``service install|uninstall|restart``: running and activating the broker."""

from __future__ import annotations

import sys

import click

from sigilforge.cli.app import cli

__all__ = ["daemon", "service"]


@cli.command("daemon")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Exit after this long without calls (default: config.toml, else 300; 0: never).",
)
@click.option("-v", "--verbose", count=True, help="Log more; repeat for debug.")
def daemon(idle_timeout: float | None, verbose: int) -> None:
    """Serve org.sigilforge.Broker1 on the D-Bus session bus (what sigilforge-daemon
    runs; D-Bus starts it on the first call once `sigilforge service install` ran)."""
    from sigilforge.daemon import run

    argv = ["-v"] * verbose
    if idle_timeout is not None:
        argv += ["--idle-timeout", str(idle_timeout)]
    sys.exit(run(argv))


# `--user` is accepted for the commands' first spelling; per-user is the only kind (a
# system-wide install is the distro package's job), so it is the default.
_user_option = click.option(
    "--user", "user", is_flag=True, default=True, hidden=True, help="For this user (default)."
)


@cli.group("service")
def service() -> None:
    """Set up D-Bus activation for a pip/pipx install (distro packages ship their own)."""


@service.command("install")
@_user_option
def service_install(user: bool) -> None:
    """Write the D-Bus activation file and the systemd user unit for this install, and
    ask the bus to reload its configuration."""
    from sigilforge.dbus.activation import install_user
    from sigilforge.dbus.control import reload_bus_config

    files = install_user()
    click.echo(f"wrote {files.dbus_service}", err=True)
    click.echo(f"wrote {files.systemd_unit}", err=True)
    if reload_bus_config():
        click.echo("asked the session bus to reload its configuration", err=True)
    else:
        click.echo("no session bus to reload; it reads the file when it next starts", err=True)
    click.echo("the next call to org.sigilforge.Broker1 starts the daemon", err=True)


@service.command("uninstall")
@_user_option
def service_uninstall(user: bool) -> None:
    """Stop the daemon and remove the files `service install` wrote (accounts and
    secrets stay: see the README's Uninstall section)."""
    from sigilforge.dbus.activation import uninstall_user
    from sigilforge.dbus.control import reload_bus_config, stop_daemon

    stopped = stop_daemon()
    if stopped is not None:
        click.echo(f"stopped the daemon (pid {stopped})", err=True)
    removed = uninstall_user()
    for path in removed:
        click.echo(f"removed {path}", err=True)
    if removed:
        reload_bus_config()
    if not removed and stopped is None:
        click.echo("nothing to remove", err=True)


@service.command("restart")
def service_restart() -> None:
    """Stop the running daemon and start a new one, so it reads config.toml again."""
    from sigilforge.dbus.blocking import BlockingClient
    from sigilforge.dbus.control import stop_daemon
    from sigilforge.dbus.errors import Unreachable
    from sigilforge.dbus.presence import daemon_pid

    stopped = stop_daemon()
    click.echo(
        f"stopped the daemon (pid {stopped})" if stopped else "no daemon was running", err=True
    )
    try:
        client = BlockingClient.connect()
        try:
            client.ping()
        finally:
            client.close()
    except Unreachable as exc:
        raise Unreachable(
            f"could not start the daemon ({exc.message}); is it installed? "
            "run: sigilforge service install"
        ) from None
    click.echo(f"started the daemon (pid {daemon_pid()})", err=True)
