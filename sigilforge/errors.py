"""Every failure Sigilforge reports, as one tree.

Each concrete class has a stable ``code``: it is the suffix of the D-Bus error name
(``org.sigilforge.Broker1.Error.<code>``) and picks the CLI exit status. Messages are
short and never carry a secret; details belong in the local log only.

::

    SigilforgeError                 code Failed            exit 1
    ├── InvalidArgument             InvalidArgument        exit 2  (D-Bus: InvalidArgs)
    │   └── InvalidReference        InvalidReference       exit 2
    ├── NamingError
    │   ├── NoSuchAccount           NoSuchAccount          exit 3
    │   ├── AccountExists           AccountExists          exit 3
    │   └── UnknownProvider         UnknownProvider        exit 3
    ├── StoreError
    │   ├── StoreUnavailable        StoreUnavailable       exit 4
    │   ├── StoreLocked             StoreLocked            exit 4
    │   └── StoreCorrupt            StoreCorrupt           exit 4
    ├── ReauthRequired              ReauthRequired         exit 5
    ├── RemoteError                 (``transient``: worth retrying with the same grant)
    │   ├── ProviderError           ProviderError          exit 6
    │   │   └── oauth.errors.OAuth2Error                   exit 6  (one class per OAuth code:
    │   │       ├── InvalidGrantError                              invalid_grant,
    │   │       ├── AccessDeniedError                              access_denied,
    │   │       ├── ServerError                                    server_error*,
    │   │       ├── TemporarilyUnavailableError                    temporarily_unavailable*,
    │   │       ├── AuthorizationPendingError                      authorization_pending*,
    │   │       ├── SlowDownError                                  slow_down*,
    │   │       └── ExpiredTokenError                              expired_token;
    │   │                                                          * transient)
    │   ├── NetworkError            Network                exit 6  (transient)
    │   └── Timeout                 Timeout                exit 6  (transient)
    └── RefusedError
        ├── Cancelled               Cancelled              exit 7
        └── AccessDenied            AccessDenied           exit 7

The OAuth classes live in ``sigilforge.oauth.errors`` and share ``ProviderError``'s code.
The group classes (``NamingError``, ``StoreError``, ``RemoteError``, ``RefusedError``)
exist to be caught, never raised.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (~3 ms a CLI run)
if TYPE_CHECKING:
    from typing import ClassVar

__all__ = [
    "ERRORS",
    "AccessDenied",
    "AccountExists",
    "Cancelled",
    "Failed",
    "InvalidArgument",
    "InvalidReference",
    "NamingError",
    "NetworkError",
    "NoSuchAccount",
    "ProviderError",
    "ReauthRequired",
    "RefusedError",
    "RemoteError",
    "SigilforgeError",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreUnavailable",
    "Timeout",
    "UnknownProvider",
    "describe_unexpected",
    "error_for_code",
]


class SigilforgeError(Exception):
    """Base of every Sigilforge error; raised as such only for the unexpected."""

    code: ClassVar[str] = "Failed"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


Failed = SigilforgeError


class InvalidArgument(SigilforgeError):
    """An argument value that cannot be right."""

    code = "InvalidArgument"
    exit_code = 2


class InvalidReference(InvalidArgument):
    """A credential reference that does not parse or names a field that never resolves."""

    code = "InvalidReference"


class NamingError(SigilforgeError):
    exit_code = 3


class NoSuchAccount(NamingError):
    """No such account."""

    code = "NoSuchAccount"


class AccountExists(NamingError):
    """The account exists already."""

    code = "AccountExists"


class UnknownProvider(NamingError):
    """No provider of that name is built in or configured."""

    code = "UnknownProvider"


class StoreError(SigilforgeError):
    exit_code = 4


class StoreUnavailable(StoreError):
    """No Secret Service (or configured keyring) can be reached."""

    code = "StoreUnavailable"


class StoreLocked(StoreError):
    """The secret store is locked; unlock it (e.g. log in to the desktop) and retry."""

    code = "StoreLocked"


class StoreCorrupt(StoreError):
    """A metadata file cannot be used as it is (unreadable and moved aside, not a regular
    file, or from a newer version); it is never overwritten."""

    code = "StoreCorrupt"


class ReauthRequired(SigilforgeError):
    """The grant was revoked or expired: add the account again to sign in."""

    code = "ReauthRequired"
    exit_code = 5


class RemoteError(SigilforgeError):
    """Something outside (a provider, the network) failed.

    ``transient`` says whether the same request may succeed later: the layer that talked
    to the outside decides it, so nothing above it interprets a provider's words."""

    exit_code = 6
    transient: bool = True
    # Seconds the provider asked us to wait (Retry-After), set by the OAuth layer only.
    retry_after: float | None = None


class ProviderError(RemoteError):
    """The provider answered with an error.

    ``error`` holds the OAuth error code (RFC 6749 section 5.2) when the provider sent one
    (``sigilforge.oauth.errors`` has a class per code). An answer that is not an OAuth
    error (a 5xx, a proxy's page) is transient unless the raiser says otherwise.
    """

    code = "ProviderError"

    def __init__(
        self, message: str = "", *, error: str | None = None, transient: bool = True
    ) -> None:
        super().__init__(message)
        self.error = error
        self.transient = transient


class NetworkError(RemoteError):
    """The provider could not be reached."""

    code = "Network"


class Timeout(RemoteError):
    """An operation ran out of time."""

    code = "Timeout"


class RefusedError(SigilforgeError):
    exit_code = 7


class Cancelled(RefusedError):
    """The operation was cancelled."""

    code = "Cancelled"


class AccessDenied(RefusedError):
    """The user or the provider refused."""

    code = "AccessDenied"


ERRORS: tuple[type[SigilforgeError], ...] = (
    SigilforgeError,
    InvalidArgument,
    InvalidReference,
    NoSuchAccount,
    AccountExists,
    UnknownProvider,
    StoreUnavailable,
    StoreLocked,
    StoreCorrupt,
    ReauthRequired,
    ProviderError,
    NetworkError,
    Timeout,
    Cancelled,
    AccessDenied,
)
"""The concrete classes, one per code."""

_BY_CODE = {cls.code: cls for cls in ERRORS}


def error_for_code(code: str) -> type[SigilforgeError]:
    """The class for a code; ``SigilforgeError`` (``Failed``) for a code we do not know."""
    return _BY_CODE.get(code, SigilforgeError)


def describe_unexpected(exc: BaseException) -> str:
    """For a local log: the exception's type and where it was raised, but not its
    message, which may quote anything it was handed, a token included."""
    import traceback  # here: it brings tokenize and textwrap, ~2.5 ms of every CLI start

    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{type(exc).__name__} (message withheld)\n{frames.rstrip()}"
