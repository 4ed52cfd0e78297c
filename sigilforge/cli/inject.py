"""``sigilforge inject -i TEMPLATE [-o OUT]``: fill ``{{ REF }}`` placeholders (as ``op
inject``).

Every reference is resolved before anything is written, so one that fails leaves no
output at all, not a half-filled file. OUT is written to a private temp file beside it
(0600), fsynced and renamed over OUT: readers see the old file or the whole new one.
Braces around anything but a reference (a Jinja or Go template) are left as they are.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from sigilforge.cli.app import State, cli, pass_state
from sigilforge.errors import InvalidArgument

__all__ = ["fill", "inject", "write_private"]

_PLACEHOLDER = re.compile(r"\{\{\s*((?:auth://|vals:ref\+|ref\+)[^\s{}]+)\s*\}\}")
_MAX_TEMPLATE = 16 * 1024 * 1024


def fill(template: str, resolve: Callable[[str], str]) -> str:
    values = {ref: str(resolve(ref)) for ref in dict.fromkeys(_PLACEHOLDER.findall(template))}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def write_private(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cli.command("inject")
@click.option("-i", "--in-file", "source", required=True, help="The template ('-': stdin).")
@click.option(
    "-o",
    "--out-file",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (0600, atomically) instead of stdout.",
)
@pass_state
def inject(state: State, source: str, target: Path | None) -> None:
    """Fill the {{ auth://... }} placeholders of a template."""
    try:
        if source == "-":
            template = sys.stdin.read(_MAX_TEMPLATE)
        else:
            with open(source, encoding="utf-8") as fh:
                template = fh.read(_MAX_TEMPLATE)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise InvalidArgument(f"{source}: {reason}") from None
    text = fill(template, state.backend().resolve) if _PLACEHOLDER.search(template) else template
    if target is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_private(target, text)
    except OSError as exc:
        raise InvalidArgument(f"{target}: {exc.strerror}") from None
    click.echo(f"wrote {target}", err=True)
