"""``get-token``, ``refresh-token``, ``resolve``: what scripts run."""

from __future__ import annotations

import click

from sigilforge.cli.app import State, cli, pass_state
from sigilforge.cli.complete import complete_account, complete_service
from sigilforge.formats import TokenFormat, check, render

__all__ = ["get_token", "refresh_token", "resolve"]


@cli.command("get-token")
@click.argument("service", shell_complete=complete_service)
@click.argument("account", shell_complete=complete_account)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in TokenFormat]),
    default=TokenFormat.TOKEN.value,
    help="token (default), header, json, or a SASL xoauth2/oauthbearer string.",
)
@click.option("--user", help="The mail address a SASL --format is for.")
@pass_state
def get_token(state: State, service: str, account: str, fmt: str, user: str | None) -> None:
    """Print a valid access token (or the API key) and nothing else."""
    chosen = TokenFormat(fmt)
    check(chosen, user)
    click.echo(render(chosen, state.backend().get_token(service, account), user))


@cli.command("refresh-token")
@click.argument("service", shell_complete=complete_service)
@click.argument("account", shell_complete=complete_account)
@pass_state
def refresh_token(state: State, service: str, account: str) -> None:
    """Refresh now and print the new access token."""
    click.echo(state.backend().refresh_token(service, account).token)


@cli.command("resolve")
@click.argument("reference")
@pass_state
def resolve(state: State, reference: str) -> None:
    """Print the secret a reference names (auth://SERVICE/ACCOUNT[/FIELD], vals:ref+...)."""
    click.echo(state.backend().resolve(reference))
