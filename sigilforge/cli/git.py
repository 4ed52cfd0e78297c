"""``sigilforge git-credential get|store|erase``: a git credential helper.

``git config --global credential.helper sigilforge`` makes git run
``git-credential-sigilforge``, which is this command. ``get`` answers ``username=`` (the
account name) and ``password=`` (a fresh access token). The account is chosen by host:

- a ``[git]`` table in ``config.toml`` maps ``"HOST"`` or ``"HOST/PATH"`` (the longest
  match wins; a path needs ``credential.useHttpPath``) to ``"SERVICE"`` or
  ``"SERVICE/ACCOUNT"``; ``github.com`` is ``github`` without one;
- of that service's accounts, the one named by the ``username`` git sends
  (``credential.https://HOST.username``), or the only one;
- several accounts and nothing to choose by: refused, never guessed.

``store`` and ``erase`` change nothing: the broker, not git, owns the token. An ``erase``
of the token the broker holds now (git got a 401 with it) leaves a marker, never a secret,
so that the next ``get`` refreshes first, as git-credential-oauth does.
"""

from __future__ import annotations

import hmac
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from sigilforge.cli.app import State, cli, pass_state
from sigilforge.errors import InvalidArgument, NoSuchAccount

__all__ = ["GitRequest", "choose_account", "credential_main", "git_credential"]

_BUILT_IN = {"github.com": "github", "gist.github.com": "github"}
_MAX_INPUT = 64 * 1024


@dataclass(frozen=True)
class GitRequest:
    protocol: str
    host: str
    path: str
    username: str | None
    password: str | None = None

    @classmethod
    def read(cls, text: str) -> GitRequest:
        fields: dict[str, str] = {}
        for line in text.splitlines():
            if not line:
                break
            key, sep, value = line.partition("=")
            if not sep:
                raise InvalidArgument("git sent a line that is not key=value")
            fields.setdefault(key, value)
        return cls(
            fields.get("protocol", ""),
            fields.get("host", ""),
            fields.get("path", "").strip("/"),
            fields.get("username") or None,
            fields.get("password") or None,
        )


def _git_table() -> Mapping[str, str]:
    from sigilforge import paths

    path = paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidArgument(f"{path}: {exc.strerror}") from None
    import tomllib

    try:
        table = tomllib.loads(raw.decode("utf-8")).get("git", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise InvalidArgument(f'{path}: [git] maps "HOST[/PATH]" to "SERVICE[/ACCOUNT]"')
    return table


def _target(request: GitRequest, table: Mapping[str, str]) -> tuple[str, str | None] | None:
    where = f"{request.host}/{request.path}".rstrip("/")
    best: str | None = None
    for key in table:
        prefix = key.strip("/")
        if (where == prefix or where.startswith(prefix + "/")) and (
            best is None or len(prefix) > len(best.strip("/"))
        ):
            best = key
    if best is not None:
        service, _, account = table[best].partition("/")
        return service, account or None
    service_name = _BUILT_IN.get(request.host)
    return (service_name, None) if service_name else None


def choose_account(
    request: GitRequest, table: Mapping[str, str], accounts: list[tuple[str, str]]
) -> tuple[str, str] | None:
    """The (service, account) to answer with; None when the host is not ours."""
    target = _target(request, table)
    if target is None:
        return None
    service, fixed = target
    names = sorted(a for s, a in accounts if s == service)
    if fixed is not None:
        names = [n for n in names if n == fixed]
    if request.username is not None:
        names = [n for n in names if n == request.username]
    if not names:
        who = f" named {request.username}" if request.username else ""
        raise NoSuchAccount(f"no {service} account{who} for {request.host}")
    if len(names) > 1:
        raise InvalidArgument(
            f"{request.host} has several {service} accounts ({', '.join(names)}); set"
            f" credential.{request.protocol}://{request.host}.username or a [git] mapping"
            " in config.toml"
        )
    return service, names[0]


@cli.command("git-credential")
@click.argument("operation")
@pass_state
def git_credential(state: State, operation: str) -> None:
    """The git credential helper (credential.helper = sigilforge): OPERATION is get,
    store or erase."""
    if operation not in ("get", "store", "erase"):
        return  # gitcredentials(7): a helper silently ignores operations it does not know
    request = GitRequest.read(sys.stdin.read(_MAX_INPUT))
    if operation == "store" or request.protocol not in ("https", "http") or not request.host:
        return  # the broker owns the token; what git learnt changes nothing
    backend = state.backend()
    chosen = choose_account(
        request, _git_table(), [(a.service, a.account) for a in backend.list_accounts()]
    )
    if chosen is None:
        return
    marker = _refresh_marker(*chosen)
    if operation == "erase":
        current = backend.get_token(*chosen).token
        if request.password is not None and hmac.compare_digest(request.password, current):
            marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            marker.touch(mode=0o600)
        return
    if marker.exists():
        token = backend.refresh_token(*chosen)
        marker.unlink(missing_ok=True)
    else:
        token = backend.get_token(*chosen)
    lines = [f"username={chosen[1]}", f"password={token.token}"]
    if token.expires_at:
        lines.append(f"password_expiry_utc={token.expires_at}")
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()


def _refresh_marker(service: str, account: str) -> Path:
    from sigilforge import paths

    return paths.runtime_dir() / "git-erased" / f"{service}.{account}"


def credential_main() -> None:
    """``git-credential-sigilforge OPERATION``, as git runs a helper."""
    from sigilforge.cli.app import main

    main(["git-credential", *sys.argv[1:]])
