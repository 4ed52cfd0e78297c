"""The ``sigilforge`` command.

Output that scripts read is exact: ``get-token`` and ``resolve`` print the secret and a
newline, nothing else. Errors are one line on stderr and an exit status per error kind
(see ``sigilforge.errors``); a traceback never reaches the terminal, only the local log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, NoReturn

import click

from sigilforge.errors import InvalidArgument, SigilforgeError

if TYPE_CHECKING:
    from sigilforge.broker import BrokerAPI
    from sigilforge.model import Account
    from sigilforge.pending import Pending

__all__ = ["main"]

log = logging.getLogger("sigilforge")

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _State:
    """Opens the backend on first use, so ``--help`` and usage errors cost nothing.

    The backend is the daemon over the session bus (started by D-Bus if need be); when
    no bus or daemon can be reached, the same ``Broker`` runs in this process instead,
    and the user is told once, on stderr.
    """

    def __init__(self) -> None:
        self._backend: BrokerAPI | None = None
        self.no_daemon = bool(os.environ.get("SIGILFORGE_NO_DAEMON"))

    def backend(self) -> BrokerAPI:
        if self._backend is None:
            self._backend = self._open()
        return self._backend

    def _open(self) -> BrokerAPI:
        if not self.no_daemon:
            from sigilforge.dbus.blocking import BlockingClient
            from sigilforge.dbus.errors import Unreachable

            try:
                client = BlockingClient.connect()
            except Unreachable as exc:
                reason = exc.message
            else:
                try:
                    client.ping()
                    return client
                except Unreachable as exc:
                    client.close()
                    reason = exc.message
            click.echo(
                f"sigilforge: no broker daemon reachable ({reason}); running in-process",
                err=True,
            )
        from sigilforge.broker import Broker

        return Broker.open()

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


pass_state = click.make_pass_decorator(_State, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sigilforge", prog_name="sigilforge")
@click.option("-v", "--verbose", count=True, help="Log more (to stderr); repeat for debug.")
@click.option(
    "--no-daemon",
    is_flag=True,
    help="Run the broker in this process instead of asking the daemon on the session bus.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, no_daemon: bool) -> None:
    """Sigilforge: OAuth2 tokens and API keys for your desktop and your scripts."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format="sigilforge: %(levelname)s: %(message)s",
    )
    state = ctx.ensure_object(_State)
    state.no_daemon = state.no_daemon or no_daemon
    ctx.call_on_close(state.close)


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
    state: _State,
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
        key = _read_api_key()
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
        _show_prompt(pending.prompt, flow)
        if flow is Flow.PASTE:
            _deliver_pasted_redirect(pending)
        acc = _wait_for_sign_in(pending)
    except BaseException:
        pending.cancel()
        raise
    click.echo(f"added {acc.service}/{acc.account} ({acc.kind.value})", err=True)


def _read_api_key() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("API key", hide_input=True, err=True))
    return sys.stdin.readline()


def _show_prompt(prompt: dict[str, str], flow: object) -> None:
    # Each thing a user may copy is on a line of its own, so a terminal selects it whole
    # and a script can pick it out.
    if "user_code" in prompt:
        click.echo("To sign in, open this address on any device:", err=True)
        click.echo(prompt.get("verification_uri", ""), err=True)
        click.echo("and enter the code:", err=True)
        click.echo(prompt["user_code"], err=True)
        if prompt.get("verification_uri_complete"):
            click.echo("or open this address, which carries the code:", err=True)
            click.echo(prompt["verification_uri_complete"], err=True)
        return
    url = prompt.get("authorize_url", "")
    if prompt.get("browser_opened") == "true":
        click.echo("Your browser should open; if it does not, open this address:", err=True)
    else:
        click.echo("Open this address in a browser to sign in:", err=True)
    click.echo(url, err=True)


def _deliver_pasted_redirect(pending: Pending[Account]) -> None:
    """The SSH fallback: the browser on the user's own machine cannot reach our loopback
    listener, so the user pastes the address it ended on and we hand it over locally.
    Stops asking once the flow has ended (a local browser got through, or time ran out)."""
    import select
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    redirect_uri = pending.prompt.get("redirect_uri", "")
    expected = urlsplit(redirect_uri)
    click.echo(
        "After you consent, the browser shows an error page; copy its address and paste it here:",
        err=True,
    )
    while not pending.done():
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if not ready:
            continue
        line = sys.stdin.readline()
        if not line:
            return  # no more input: the flow may still end through the browser, or time out
        pasted = urlsplit(line.strip())
        if (pasted.scheme, pasted.netloc, pasted.path) != (
            expected.scheme,
            expected.netloc,
            expected.path,
        ) or not pasted.query:
            click.echo(f"that is not an address starting with {redirect_uri}; try again:", err=True)
            continue
        # Only ever our own listener: scheme, host, port and path were checked above.
        target = f"{redirect_uri}?{pasted.query}"
        # No proxy: the address carries the authorization code and is for us alone.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(target, timeout=10):
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 400 and not pending.done():
                click.echo("that address is not from this sign-in; paste the right one:", err=True)
                continue
            return
        except urllib.error.URLError:
            return  # the listener has closed: the flow is over, its result says how


def _wait_for_sign_in(pending: Pending[Account]) -> Account:
    from sigilforge.errors import Timeout

    expires = int(pending.prompt.get("expires_in", "0") or 0)
    started = time.monotonic()
    tty = sys.stderr.isatty()
    if not tty:
        click.echo("waiting for the sign-in to complete...", err=True)
    while True:
        try:
            result = pending.result(timeout=1.0)
        except Timeout:
            if pending.done():
                raise
            if tty:
                waited = int(time.monotonic() - started)
                left = f", {max(expires - waited, 0)} s left" if expires else ""
                click.echo(
                    f"\rwaiting for the sign-in to complete ({waited} s{left}) ", nl=False, err=True
                )
            continue
        if tty:
            click.echo("", err=True)
        return result


@cli.command("list-accounts")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@pass_state
def list_accounts(state: _State, as_json: bool) -> None:
    """List accounts (never a secret)."""
    accounts = state.backend().list_accounts()
    if as_json:
        click.echo(json.dumps([a.to_dict() for a in accounts], indent=2))
        return
    if not accounts:
        click.echo("no accounts", err=True)
        return
    rows = [("SERVICE", "ACCOUNT", "KIND", "STATUS", "EXPIRES", "SCOPES")]
    rows += [_row(a) for a in accounts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])


def _row(a: Account) -> tuple[str, str, str, str, str, str]:
    expires = "-"
    if a.expires_at:
        expires = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.expires_at))
    return (a.service, a.account, a.kind.value, a.status.value, expires, " ".join(a.scopes))


@cli.command("get-token")
@click.argument("service")
@click.argument("account")
@pass_state
def get_token(state: _State, service: str, account: str) -> None:
    """Print a valid access token (or the API key) and nothing else."""
    click.echo(state.backend().get_token(service, account).token)


@cli.command("refresh-token")
@click.argument("service")
@click.argument("account")
@pass_state
def refresh_token(state: _State, service: str, account: str) -> None:
    """Refresh now and print the new access token."""
    click.echo(state.backend().refresh_token(service, account).token)


@cli.command("remove-account")
@click.argument("service")
@click.argument("account")
@pass_state
def remove_account(state: _State, service: str, account: str) -> None:
    """Revoke (where the provider allows) and delete an account and its secrets."""
    removal = state.backend().remove_account(service, account)
    if removal.note:
        click.echo(f"sigilforge: {removal.note}", err=True)
    elif removal.revoked:
        click.echo("revoked at the provider", err=True)
    click.echo(f"removed {service}/{account}", err=True)


@cli.group("provider")
def provider_group() -> None:
    """OAuth providers: the built-ins and those in providers.toml."""


@provider_group.command("list")
def provider_list() -> None:
    """List the providers add-account knows."""
    from sigilforge.broker import Broker

    with Broker.open() as broker:
        for name in broker.provider_names():
            click.echo(name)


@provider_group.command("set-secret")
@click.argument("name")
def provider_set_secret(name: str) -> None:
    """Store the OAuth client secret of provider NAME (read from stdin) in the secret
    store; it is never written to a file."""
    from sigilforge.broker import Broker

    if sys.stdin.isatty():
        secret = str(click.prompt("client secret", hide_input=True, err=True))
    else:
        secret = sys.stdin.readline()
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


@cli.command("resolve")
@click.argument("reference")
@pass_state
def resolve(state: _State, reference: str) -> None:
    """Print the secret a reference names (auth://SERVICE/ACCOUNT[/FIELD], vals:ref+...)."""
    click.echo(state.backend().resolve(reference))


@cli.command(
    "daemon",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def daemon(args: tuple[str, ...]) -> None:
    """Run the broker daemon on the session bus (as sigilforge-daemon; --help for more)."""
    from sigilforge.daemon import run

    sys.exit(run(list(args)))


@cli.group("service")
def service() -> None:
    """Set up D-Bus activation for a pip/pipx install (distro packages ship their own)."""


@service.command("install")
@click.option("--user", "user", is_flag=True, required=True, help="For this user (required).")
def service_install(user: bool) -> None:
    """Write the D-Bus activation file and the systemd user unit for this install."""
    from sigilforge.dbus.activation import install_user

    files = install_user()
    click.echo(f"wrote {files.dbus_service}", err=True)
    click.echo(f"wrote {files.systemd_unit}", err=True)
    click.echo("the next call to org.sigilforge.Broker1 starts the daemon", err=True)


@service.command("uninstall")
@click.option("--user", "user", is_flag=True, default=True, help="For this user (default).")
def service_uninstall(user: bool) -> None:
    """Remove the files `service install --user` wrote."""
    from sigilforge.dbus.activation import uninstall_user

    removed = uninstall_user()
    for path in removed:
        click.echo(f"removed {path}", err=True)
    if not removed:
        click.echo("nothing to remove", err=True)


def _fail(message: str, code: int) -> NoReturn:
    print(f"sigilforge: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="sigilforge", standalone_mode=False)
    except SigilforgeError as exc:
        _fail(exc.message, exc.exit_code)
    except click.exceptions.Abort:
        _fail("interrupted", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        _log_unexpected(exc)
        _fail(f"unexpected error ({type(exc).__name__}); details in the log", 1)


def _log_unexpected(exc: BaseException) -> None:
    # Where it was raised goes to a private file, never to the terminal.
    import os

    from sigilforge import paths
    from sigilforge.errors import describe_unexpected

    try:
        path = paths.log_file()
        paths.ensure_private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "a") as fh:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            fh.write(f"{stamp} unexpected error: {describe_unexpected(exc)}\n")
    except OSError:
        pass
