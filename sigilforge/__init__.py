"""Sigilforge: one per-user broker for OAuth2 tokens and API keys.

Library users import from here only (events from ``sigilforge.events``, named as the
D-Bus signals they become; ``sigilforge.refresh_guard`` for a program that refreshes in
worker threads and wants SIGTERM/SIGINT/SIGHUP held while a refresh is unsaved); every
other module is private and may change.

The names are loaded on first use (PEP 562): ``sigilforge get-token`` imports submodules
of this package and must not pay for the broker, the store and their dependencies.
"""

# Every import here is underscored or lazy: a public attribute of this package is one
# in ``__all__`` (tests/test_public_api.py holds it to that).
from sigilforge._version import __version__

# typing.TYPE_CHECKING without importing typing, ~3 ms of every ``sigilforge get-token``
# (importlib, too, loads only when a lazy name is first asked for).
_TYPE_CHECKING = False
if _TYPE_CHECKING:
    import typing as _typing

    from sigilforge import events, refresh_guard
    from sigilforge.broker import Broker
    from sigilforge.config import Config
    from sigilforge.errors import (
        AccessDenied,
        AccountExists,
        Cancelled,
        InvalidArgument,
        InvalidReference,
        NetworkError,
        NoSuchAccount,
        ProviderError,
        ReauthRequired,
        SigilforgeError,
        StoreCorrupt,
        StoreLocked,
        StoreUnavailable,
        Timeout,
        UnknownProvider,
    )
    from sigilforge.model import (
        AccessToken,
        Account,
        AccountKind,
        AccountStatus,
        AddOptions,
        Flow,
        Removal,
    )
    from sigilforge.pending import Pending
    from sigilforge.refs import CredentialRef

_HOMES = {
    "sigilforge.broker": ("Broker",),
    "sigilforge.config": ("Config",),
    "sigilforge.errors": (
        "AccessDenied",
        "AccountExists",
        "Cancelled",
        "InvalidArgument",
        "InvalidReference",
        "NetworkError",
        "NoSuchAccount",
        "ProviderError",
        "ReauthRequired",
        "SigilforgeError",
        "StoreCorrupt",
        "StoreLocked",
        "StoreUnavailable",
        "Timeout",
        "UnknownProvider",
    ),
    "sigilforge.model": (
        "AccessToken",
        "Account",
        "AccountKind",
        "AccountStatus",
        "AddOptions",
        "Flow",
        "Removal",
    ),
    "sigilforge.pending": ("Pending",),
    "sigilforge.refs": ("CredentialRef",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> "_typing.Any":
    import importlib as _importlib

    if name in ("events", "refresh_guard"):
        # Events are named as the D-Bus signals they become, so ``events.ReauthRequired``
        # (the event) lives beside ``ReauthRequired`` (the error) in a namespace of its own.
        value = _importlib.import_module(f"sigilforge.{name}")
        globals()[name] = value
        return value
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'sigilforge' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AccessDenied",
    "AccessToken",
    "Account",
    "AccountExists",
    "AccountKind",
    "AccountStatus",
    "AddOptions",
    "Broker",
    "Cancelled",
    "Config",
    "CredentialRef",
    "Flow",
    "InvalidArgument",
    "InvalidReference",
    "NetworkError",
    "NoSuchAccount",
    "Pending",
    "ProviderError",
    "ReauthRequired",
    "Removal",
    "SigilforgeError",
    "StoreCorrupt",
    "StoreLocked",
    "StoreUnavailable",
    "Timeout",
    "UnknownProvider",
    "__version__",
    "events",
    "refresh_guard",
]
