"""``sigilforge exec [--env NAME=REF]... [--env-file FILE] -- COMMAND...`` (as ``op run``).

The references are the values of ``--env`` and ``--env-file``, and the values of
variables already in the environment that are references (``export
API_KEY=auth://openai/work`` in a shell profile, as ``op run`` reads ``op://``). They
are resolved first, all of them; then this process *becomes* COMMAND
(execve), with the secrets in its environment only. So COMMAND's exit status and the
signals sent to it are its own, with nothing in between to forward them, and no secret
is ever in an argv or in the caller's environment.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from sigilforge.cli.app import State, cli, pass_state
from sigilforge.errors import InvalidArgument
from sigilforge.refs import is_reference

__all__ = ["exec_command", "read_env_file"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
EXIT_CANNOT_RUN = 126  # the shell's codes, so scripts read them as they would from sh
EXIT_NOT_FOUND = 127


def _split(assignment: str, where: str) -> tuple[str, str]:
    name, sep, value = assignment.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name):
        raise InvalidArgument(f"{where}: expected NAME=VALUE with NAME a variable name")
    return name, value


def read_env_file(path: Path) -> list[tuple[str, str]]:
    """``NAME=VALUE`` lines (``export`` allowed, ``#`` comments, quotes stripped), as
    ``op run --env-file`` reads them."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise InvalidArgument(f"{path}: {reason}") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, value = _split(line.removeprefix("export "), f"{path}:{number}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        pairs.append((name, value))
    return pairs


@cli.command(
    "exec", context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False}
)
@click.option("--env", "assignments", multiple=True, metavar="NAME=REF", help="Repeatable.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A .env file whose values may be references.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_state
def exec_command(
    state: State, assignments: tuple[str, ...], env_file: Path | None, command: tuple[str, ...]
) -> None:
    """Run COMMAND with references resolved into its environment.

    References come from --env, --env-file and variables already set to one."""
    # Later sources win (--env over --env-file over the environment); only the values
    # that win are resolved, so a reference overridden on the command line never fails.
    wanted = {name: value for name, value in os.environ.items() if is_reference(value)}
    wanted.update(read_env_file(env_file) if env_file else [])
    wanted.update(_split(a, "--env") for a in assignments)
    env = dict(os.environ)
    resolved: dict[str, str] = {}
    for name, value in wanted.items():
        if is_reference(value):
            if value not in resolved:
                resolved[value] = state.backend().resolve(value)
            value = resolved[value]
        env[name] = value
    state.close()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        # No shell, by design: the command is the user's argv as given.
        os.execvpe(command[0], list(command), env)  # noqa: S606
    except FileNotFoundError:
        click.echo(f"sigilforge: {command[0]}: command not found", err=True)
        sys.exit(EXIT_NOT_FOUND)
    except OSError as exc:
        click.echo(f"sigilforge: {command[0]}: {exc.strerror}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
