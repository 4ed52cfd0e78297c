"""``add-account``, ``list-accounts``, ``remove-account``."""

from __future__ import annotations

import click

from sigilforge.cli.app import State, cli, pass_state
from sigilforge.cli.complete import complete_account, complete_service
from sigilforge.cli.secret_input import read_secret
from sigilforge.cli.signin import deliver_pasted_redirect, show_prompt, wait_for_sign_in
from sigilforge.errors import InvalidArgument
from sigilforge.view import print_accounts

__all__ = ["add_account", "list_accounts", "remove_account"]


@cli.command("add-account")
@click.argument("service")
@click.argument("account")
@click.option("--api-key-stdin", is_flag=True, help="Read an API key from standard input.")
@click.option("--scope", "scopes", multiple=True, help="An OAuth scope (repeat for more).")
@click.option("--device", is_flag=True, help="Sign in with a code on another device (RFC 8628).")
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL instead of opening it.")
@click.option("--paste", is_flag=True, help="Over SSH: paste back the address the browser ends on.")
@click.option("--provider", help="The OAuth provider, if not named like SERVICE.")
@pass_state
def add_account(
    state: State,
    service: str,
    account: str,
    api_key_stdin: bool,
    scopes: tuple[str, ...],
    device: bool,
    no_browser: bool,
    paste: bool,
    provider: str | None,
) -> None:
    """Add ACCOUNT at SERVICE: an API key read from stdin (never from the command line),
    or an OAuth sign-in through the browser or, with --device, a code."""
    from sigilforge.model import AddOptions, Flow

    if api_key_stdin:
        if scopes or device or no_browser or paste or provider:
            raise InvalidArgument("--api-key-stdin takes no OAuth options")
        key = read_secret("API key")
        options = AddOptions(flow=Flow.API_KEY, api_key=key)
        acc = state.backend().add_account(service, account, options).result()
        click.echo(f"added {acc.service}/{acc.account} ({acc.kind.value})", err=True)
        return
    if device and paste:
        raise InvalidArgument("--device and --paste are different sign-in flows; pick one")
    flow = Flow.DEVICE if device else Flow.PASTE if paste else Flow.BROWSER
    options = AddOptions(
        flow=flow,
        scopes=scopes,
        open_browser=not (no_browser or paste),
        provider=provider,
    )
    pending = state.backend().add_account(service, account, options)
    try:
        show_prompt(pending.prompt, flow)
        if flow is Flow.PASTE:
            deliver_pasted_redirect(pending)
        acc = wait_for_sign_in(pending)
    except BaseException:
        pending.cancel()
        raise
    click.echo(f"added {acc.service}/{acc.account} ({acc.kind.value})", err=True)


@cli.command("list-accounts")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@pass_state
def list_accounts(state: State, as_json: bool) -> None:
    """List accounts (never a secret)."""
    print_accounts([a.to_dict() for a in state.backend().list_accounts()], as_json=as_json)


@cli.command("remove-account")
@click.argument("service", shell_complete=complete_service)
@click.argument("account", shell_complete=complete_account)
@pass_state
def remove_account(state: State, service: str, account: str) -> None:
    """Revoke (where the provider allows) and delete an account and its secrets."""
    removal = state.backend().remove_account(service, account)
    if removal.note:
        click.echo(f"sigilforge: {removal.note}", err=True)
    elif removal.revoked:
        click.echo("revoked at the provider", err=True)
    click.echo(f"removed {service}/{account}", err=True)
