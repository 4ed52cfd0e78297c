"""``provider list|set-secret|remove-secret``: OAuth providers and their client secrets."""

from __future__ import annotations

import click

from sigilforge.cli.app import cli

__all__ = ["provider_group"]


@cli.group("provider")
def provider_group() -> None:
    """OAuth providers: the built-ins and those in providers.toml."""


@provider_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of names, for scripts.")
def provider_list(as_json: bool) -> None:
    """List the providers add-account knows."""
    from sigilforge.broker import Broker

    with Broker.open() as broker:
        names = broker.provider_names()
    if as_json:
        import json

        click.echo(json.dumps(names))
        return
    for name in names:
        click.echo(name)


@provider_group.command("set-secret")
@click.argument("name")
def provider_set_secret(name: str) -> None:
    """Store the OAuth client secret of provider NAME (read from stdin) in the secret
    store; it is never written to a file."""
    from sigilforge.broker import Broker
    from sigilforge.cli.secret_input import read_secret

    secret = read_secret("client secret")
    # The secret store is shared with the daemon, so this needs no daemon round trip.
    with Broker.open() as broker:
        broker.set_client_secret(name, secret)
    click.echo(f"stored the client secret for {name}", err=True)


@provider_group.command("remove-secret")
@click.argument("name")
def provider_remove_secret(name: str) -> None:
    """Delete the stored client secret of provider NAME."""
    from sigilforge.broker import Broker

    with Broker.open() as broker:
        found = broker.delete_client_secret(name)
    click.echo(
        f"removed the client secret for {name}" if found else "no secret was stored", err=True
    )
