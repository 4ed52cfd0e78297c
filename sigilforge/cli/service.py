"""``daemon`` and ``service install|uninstall``: running and activating the broker."""

from __future__ import annotations

import sys

import click

from sigilforge.cli.app import cli

__all__ = ["daemon", "service"]


@cli.command(
    "daemon",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def daemon(args: tuple[str, ...]) -> None:
    """Run the broker daemon on the session bus (as sigilforge-daemon; --help for more)."""
    from sigilforge.daemon import run

    sys.exit(run(list(args)))


@cli.group("service")
def service() -> None:
    """Set up D-Bus activation for a pip/pipx install (distro packages ship their own)."""


@service.command("install")
@click.option("--user", "user", is_flag=True, required=True, help="For this user (required).")
def service_install(user: bool) -> None:
    """Write the D-Bus activation file and the systemd user unit for this install."""
    from sigilforge.dbus.activation import install_user

    files = install_user()
    click.echo(f"wrote {files.dbus_service}", err=True)
    click.echo(f"wrote {files.systemd_unit}", err=True)
    click.echo("the next call to org.sigilforge.Broker1 starts the daemon", err=True)


@service.command("uninstall")
@click.option("--user", "user", is_flag=True, default=True, help="For this user (default).")
def service_uninstall(user: bool) -> None:
    """Remove the files `service install --user` wrote."""
    from sigilforge.dbus.activation import uninstall_user

    removed = uninstall_user()
    for path in removed:
        click.echo(f"removed {path}", err=True)
    if not removed:
        click.echo("nothing to remove", err=True)
