"""What the command line tells a user to do next, after an error's own message.

The errors themselves carry no client's advice: a D-Bus caller reads the same message and
has no ``sigilforge`` command to run. The CLI (and its fast path in ``sigilforge.entry``,
hence no click here) adds the next command, with the service and account it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

from sigilforge.errors import ReauthRequired, SigilforgeError, UnknownProvider

__all__ = ["with_advice"]

# Options of the commands that take a value: their value is not a positional argument.
_VALUED = {"--scope", "--provider", "--idle-timeout"}


def _positionals(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _VALUED
        else:
            out.append(arg)
    return out


def _target(argv: Sequence[str]) -> tuple[str, str] | None:
    """The (service, account) the command named, if it named one."""
    words = _positionals(argv)
    if not words:
        return None
    verb, rest = words[0], words[1:]
    if verb == "resolve" and rest:
        from sigilforge.refs import CredentialRef

        try:
            ref = CredentialRef.parse(rest[0])
        except SigilforgeError:
            return None
        return ref.service, ref.account
    if len(rest) >= 2:
        return rest[0], rest[1]
    return None


def with_advice(exc: SigilforgeError, argv: Sequence[str]) -> str:
    """``exc``'s message and, where there is one, the command that fixes it."""
    target = _target(argv)
    service, account = target or ("SERVICE", "ACCOUNT")
    if isinstance(exc, ReauthRequired):
        return f"{exc.message}; run: sigilforge add-account {service} {account}"
    if isinstance(exc, UnknownProvider) and exc.message.startswith("no provider"):
        return (
            f"{exc.message}; for an API key instead: "
            f"sigilforge add-account {service} {account} --api-key-stdin"
        )
    return exc.message
