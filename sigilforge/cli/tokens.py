"""``get-token``, ``refresh-token``, ``resolve``: what scripts run."""

from __future__ import annotations

import click

from sigilforge.cli.app import State, cli, pass_state

__all__ = ["get_token", "refresh_token", "resolve"]


@cli.command("get-token")
@click.argument("service")
@click.argument("account")
@pass_state
def get_token(state: State, service: str, account: str) -> None:
    """Print a valid access token (or the API key) and nothing else."""
    click.echo(state.backend().get_token(service, account).token)


@cli.command("refresh-token")
@click.argument("service")
@click.argument("account")
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
