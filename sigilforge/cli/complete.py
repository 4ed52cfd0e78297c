"""Shell completion of service and account names (click's completion, custom completers).

Enable it with ``eval "$(_SIGILFORGE_COMPLETE=bash_source sigilforge)"`` (``zsh_source``,
``fish_source`` for the other shells). Names come from ``accounts.json``, read directly:
no daemon, no secret store, nothing secret.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

__all__ = ["complete_account", "complete_service"]


def _accounts() -> list[tuple[str, str]]:
    from sigilforge import paths
    from sigilforge.accounts import AccountStore
    from sigilforge.errors import SigilforgeError

    try:
        return [a.key for a in AccountStore(paths.accounts_file()).list()]
    except (SigilforgeError, OSError):
        return []  # completion must never print an error into the user's command line


def complete_service(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    names = sorted({service for service, _ in _accounts()})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_account(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    service = ctx.params.get("service")
    names = sorted({a for s, a in _accounts() if service is None or s == service})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]
