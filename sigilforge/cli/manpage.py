"""``sigilforge(1)``, rendered from the click definitions themselves.

``python -m sigilforge.cli.manpage > data/sigilforge.1`` (``make man``) writes the shipped
page; a test renders it again and compares, so the page cannot drift from the commands.
"""

from __future__ import annotations

import sys

import click

from sigilforge.cli import cli

__all__ = ["render"]


def _esc(text: str) -> str:
    # roff: a backslash is an escape, and a line starting with . or ' is a request.
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + ln if ln.startswith((".", "'")) else ln for ln in text.split("\n"))


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]


def _options(ctx: click.Context, command: click.Command) -> list[str]:
    out: list[str] = []
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument) or param is command.get_help_option(ctx):
            continue  # arguments are in the usage line; -h/--help is everywhere
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        out += [".TP", f"\\fB{_esc(names)}\\fR", _esc(" ".join(help_text.split()))]
    return out


def _command(ctx: click.Context, path: list[str], command: click.Command) -> list[str]:
    sub = click.Context(command, info_name=path[-1], parent=ctx)
    out: list[str] = []
    if isinstance(command, click.Group):
        for name in command.list_commands(sub):
            child = command.get_command(sub, name)
            if child is not None and not child.hidden:
                out += _command(sub, [*path, name], child)
        return out
    usage = " ".join(command.collect_usage_pieces(sub))
    out += [".SS", f"\\fB{_esc(' '.join(path))}\\fR {_esc(usage)}"]
    for paragraph in _paragraphs(command.help or ""):
        out += [".PP", _esc(paragraph)]
    out += _options(sub, command)
    return out


def render() -> str:
    from sigilforge._version import __version__

    ctx = click.Context(cli, info_name="sigilforge")
    lines = [
        f'.TH SIGILFORGE 1 "" "sigilforge {__version__}" "User Commands"',
        ".SH NAME",
        "sigilforge \\- OAuth2 tokens and API keys for your desktop and your scripts",
        ".SH SYNOPSIS",
        "\\fBsigilforge\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
    ]
    for paragraph in _paragraphs(cli.help or ""):
        lines += [".PP", _esc(paragraph)]
    lines += [".SH OPTIONS", *_options(ctx, cli), ".SH COMMANDS"]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if command is not None and not command.hidden:
            lines += _command(ctx, ["sigilforge", name], command)
    lines += [
        ".SH EXIT STATUS",
        "0 success; 1 unexpected; 2 invalid argument; 3 no such account, account exists or",
        "unknown provider; 4 secret store unavailable or locked; 5 re\\-authentication",
        "required; 6 provider, network or timeout; 7 cancelled or access denied.",
        ".SH ENVIRONMENT",
        ".TP",
        "\\fBNO_COLOR\\fR",
        "No emphasis in the output, even on a terminal.",
        ".TP",
        "\\fBSIGILFORGE_NO_DAEMON\\fR",
        "Run the broker in this process, as \\fB\\-\\-no\\-daemon\\fR does.",
        ".SH FILES",
        "\\fI~/.config/sigilforge/config.toml\\fR, \\fIproviders.toml\\fR, \\fIaccounts.json\\fR;",
        "\\fI~/.local/state/sigilforge/sigilforge.log\\fR.",
        ".SH SEE ALSO",
        "\\fBbusctl\\fR(1), \\fBsecret\\-tool\\fR(1)",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
