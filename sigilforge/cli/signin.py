"""Driving an OAuth sign-in from the terminal: the prompt, the SSH paste-back, the wait."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sigilforge.model import Account
    from sigilforge.pending import Pending

__all__ = ["deliver_pasted_redirect", "show_prompt", "wait_for_sign_in"]


def show_prompt(prompt: dict[str, str], flow: object) -> None:
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


def deliver_pasted_redirect(pending: Pending[Account]) -> None:
    """The SSH fallback: the browser on the user's own machine cannot reach our loopback
    listener, so the user pastes the address it ended on and we hand it over locally.
    Stops asking once the flow has ended (a local browser got through, or time ran out)."""
    import select
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    from sigilforge.errors import Cancelled

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
            if pending.done():
                return
            # Nobody can paste any more: waiting out the flow's time limit helps no one.
            raise Cancelled(
                "standard input ended before an address was pasted; run add-account "
                "--paste in a terminal, or without --paste where a browser can reach this machine"
            )
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


def wait_for_sign_in(pending: Pending[Account]) -> Account:
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
