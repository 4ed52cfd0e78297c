"""Reading one secret (an API key, a client secret) from the terminal or standard input."""

from __future__ import annotations

import sys

import click

from sigilforge.errors import InvalidArgument

__all__ = ["read_secret"]

# Far above any real key; a file piped in by mistake is refused, not stored.
_MAX_INPUT = 64 * 1024


def read_secret(what: str) -> str:
    """Hidden prompt on a terminal; else all of stdin, which must be one line (a trailing
    newline allowed). More lines are refused: keeping the first would store a secret the
    user did not mean, and dropping the rest silently hides it."""
    if sys.stdin.isatty():
        return str(click.prompt(what, hide_input=True, err=True))
    data = sys.stdin.read(_MAX_INPUT + 1)
    if len(data) > _MAX_INPUT:
        raise InvalidArgument(f"the {what} on standard input is too long")
    value = data.removesuffix("\n").removesuffix("\r")
    if "\n" in value or "\r" in value:
        raise InvalidArgument(
            f"the {what} on standard input has more than one line; give exactly one line"
        )
    return value
