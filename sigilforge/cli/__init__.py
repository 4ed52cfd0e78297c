"""The ``sigilforge`` command: one module per verb group, the group itself in ``app``.

Importing this package registers every verb; ``main`` runs the command.
"""

from sigilforge.cli import accounts, exec, git, inject, provider, service, status, tokens
from sigilforge.cli.app import cli, main

__all__ = [
    "accounts",
    "cli",
    "exec",
    "git",
    "inject",
    "main",
    "provider",
    "service",
    "status",
    "tokens",
]
