"""Sigilforge: one per-user broker for OAuth2 tokens and API keys.

Library users import from here only; every other module is private and may change.
"""

from sigilforge._version import __version__
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
from sigilforge.events import AccountAdded, AccountRemoved, Event, ReauthNeeded, TokenRefreshed
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

__all__ = [
    "AccessDenied",
    "AccessToken",
    "Account",
    "AccountAdded",
    "AccountExists",
    "AccountKind",
    "AccountRemoved",
    "AccountStatus",
    "AddOptions",
    "Broker",
    "Cancelled",
    "Config",
    "CredentialRef",
    "Event",
    "Flow",
    "InvalidArgument",
    "InvalidReference",
    "NetworkError",
    "NoSuchAccount",
    "Pending",
    "ProviderError",
    "ReauthNeeded",
    "ReauthRequired",
    "Removal",
    "SigilforgeError",
    "StoreCorrupt",
    "StoreLocked",
    "StoreUnavailable",
    "Timeout",
    "TokenRefreshed",
    "UnknownProvider",
    "__version__",
]
