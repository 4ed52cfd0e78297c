"""OAuth providers: the built-in presets and the ones configured in ``providers.toml``.

A provider is data: endpoints, default scopes, and the quirks Sigilforge must honour.
Endpoints of a provider configured only by ``issuer`` are discovered later, by
``sigilforge.oauth.discovery``, when a flow or a refresh needs them (no network here).

``providers.toml`` in the config dir::

    [providers.corp]
    issuer = "https://login.corp.example"      # discovery (OIDC, then RFC 8414)
    client_id = "sigilforge-desktop"
    scopes = ["openid", "email"]               # optional; else the provider's defaults

    [providers.legacy]                         # or explicit endpoints
    authorize_url = "https://legacy.example/oauth/authorize"
    token_url = "https://legacy.example/oauth/token"
    device_authorization_url = "https://legacy.example/oauth/device"   # optional
    revocation_url = "https://legacy.example/oauth/revoke"             # optional
    client_id = "abc"

    [providers.github]                         # a built-in needs only your client id
    client_id = "Iv1.0123456789abcdef"

    [providers.strict]                         # a server that matches the redirect URI
    issuer = "https://sso.strict.example"      # exactly, port included
    client_id = "desktop"
    redirect_uri = "http://127.0.0.1:8765/callback"

A client secret, for providers that want one, is stored with ``sigilforge provider
set-secret NAME`` in the secret store, never in this file. Plain ``http://`` endpoints are
refused unless they point at a loopback address.

Quirks of the built-ins, and why they are handled where they are:

- Google issues a refresh token only with ``access_type=offline``, and only on the first
  consent unless ``prompt=consent`` asks again; both are sent on every authorization.
  Its "desktop app" clients have a client secret that Google itself says is not secret.
- Spotify rejects ``localhost`` redirect URIs; Sigilforge always uses ``127.0.0.1``
  (RFC 8252 section 8.3), so register ``http://127.0.0.1/callback`` (any port matches).
- GitHub answers the token endpoint in form encoding unless asked for JSON (every request
  sends ``Accept: application/json``); it supports the device flow, and revocation is
  not RFC 7009 but ``DELETE /applications/{client_id}/grant`` on its REST API, with the
  client secret as password.
- Microsoft (and others, e.g. node ``oidc-provider``) issue a refresh token only when the
  ``offline_access`` scope is requested: presets carry it, and a discovered provider that
  lists ``offline_access`` in ``scopes_supported`` gets it added to every request.
"""

from __future__ import annotations

import ipaddress
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sigilforge.errors import InvalidArgument, UnknownProvider
from sigilforge.fileio import UnsafeFile, read_regular
from sigilforge.model import validate_service

log = logging.getLogger(__name__)

__all__ = [
    "BUILTIN",
    "Provider",
    "ProviderRegistry",
    "RevocationStyle",
    "check_endpoint",
    "check_redirect_uri",
    "is_loopback_host",
]

RevocationStyle = str  # "rfc7009" or "github"


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    client_id: str = ""
    issuer: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    device_authorization_url: str | None = None
    revocation_url: str | None = None
    introspection_url: str | None = None
    scopes: tuple[str, ...] = ()
    # Extra query parameters for the authorization request (Google's offline access).
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    revocation_style: RevocationStyle = "rfc7009"
    # RFC 9207: the server promises an ``iss`` parameter on every authorization response.
    iss_parameter_supported: bool = False
    # How the client secret (if any) is sent: "client_secret_basic" or "client_secret_post".
    token_auth_method: str = "client_secret_basic"
    # A fixed loopback redirect URI (port and path) for servers that match it exactly;
    # None: a port the kernel picks, as RFC 8252 section 7.3 intends.
    redirect_uri: str | None = None
    builtin: bool = False

    @property
    def needs_discovery(self) -> bool:
        return self.issuer is not None and self.token_url is None

    def with_(self, **changes: Any) -> Provider:
        return replace(self, **changes)


BUILTIN: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="github",
            authorize_url="https://github.com/login/oauth/authorize",
            token_url="https://github.com/login/oauth/access_token",
            device_authorization_url="https://github.com/login/device/code",
            revocation_url="https://api.github.com/applications/{client_id}/grant",
            revocation_style="github",
            scopes=("read:user",),
            token_auth_method="client_secret_post",
            builtin=True,
        ),
        Provider(
            name="google",
            issuer="https://accounts.google.com",
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            device_authorization_url="https://oauth2.googleapis.com/device/code",
            revocation_url="https://oauth2.googleapis.com/revoke",
            scopes=("openid", "email"),
            authorize_params={"access_type": "offline", "prompt": "consent"},
            token_auth_method="client_secret_post",
            iss_parameter_supported=True,
            builtin=True,
        ),
        Provider(
            name="spotify",
            authorize_url="https://accounts.spotify.com/authorize",
            token_url="https://accounts.spotify.com/api/token",
            scopes=("user-read-private",),
            builtin=True,
        ),
        Provider(
            name="microsoft",
            authorize_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
            device_authorization_url=(
                "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
            ),
            scopes=("offline_access", "openid", "User.Read"),
            token_auth_method="client_secret_post",
            builtin=True,
        ),
    )
}

_URL_KEYS = (
    "issuer",
    "authorize_url",
    "token_url",
    "device_authorization_url",
    "revocation_url",
    "introspection_url",
)
_KNOWN_KEYS = {
    *_URL_KEYS,
    "client_id",
    "scopes",
    "authorize_params",
    "token_auth_method",
    "redirect_uri",
}


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redirect_uri(url: object, *, what: str) -> str:
    """``url`` if it is ``http://127.0.0.1:PORT/PATH`` (or ``[::1]``): the listener binds
    exactly there, so the host must be a loopback address literal (never ``localhost``,
    which may resolve elsewhere) and the port explicit."""
    if not isinstance(url, str):
        raise InvalidArgument(f"{what} must be a URL")
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        literal = ipaddress.ip_address(host).is_loopback
    except ValueError:
        literal = False
    try:
        port = parts.port
    except ValueError:
        port = None
    if (
        parts.scheme != "http"
        or not literal
        or not port
        or not parts.path.startswith("/")
        or parts.query
        or parts.fragment
    ):
        raise InvalidArgument(
            f"{what} must look like http://127.0.0.1:PORT/callback (a loopback address "
            "and an explicit port, no query)"
        )
    return url


def check_endpoint(url: str, *, what: str) -> str:
    """``url`` if it is https, or http on a loopback address; else ``InvalidArgument``."""
    if not isinstance(url, str):
        raise InvalidArgument(f"{what} must be a URL")
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidArgument(f"{what} is not an absolute URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    raise InvalidArgument(f"{what} must use https (plain http only on loopback): {parts.netloc}")


class ProviderRegistry:
    """The built-ins overlaid with ``providers.toml``; the file is read on each lookup
    while it changes, so a running daemon sees edits without a restart.

    A bad entry breaks only itself: looking it up raises its error, every other provider
    (and the accounts that use it) keeps working, and it is named in a warning once per
    version of the file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._cache: tuple[tuple[int, int], _Entries] | None = None
        self._warned: _Entries | None = None

    def names(self) -> list[str]:
        good, broken = self._configured()
        self._warn((good, broken))
        return sorted({*BUILTIN, *good, *broken})

    def get(self, name: str) -> Provider:
        """The provider, ready to use: a client id and https (or loopback) endpoints."""
        configured, broken = entries = self._configured()
        if name in broken:
            # The error says it all; a warning about the same entry would say it twice.
            self._warned = entries
            raise broken[name]
        self._warn(entries)
        provider = configured.get(name) or BUILTIN.get(name)
        # The file is named with its full path: a new user does not know where the
        # config dir is. No client's advice here (a D-Bus caller is not the CLI).
        where = str(self._path) if self._path is not None else "providers.toml"
        if provider is None:
            raise UnknownProvider(
                f"no provider {name!r}: built in are {', '.join(sorted(BUILTIN))}; "
                f"others go in {where}"
            )
        if not provider.client_id:
            raise UnknownProvider(
                f"provider {name!r} needs your client id: add [providers.{name}] "
                f'client_id = "..." to {where}'
            )
        if provider.token_url is None and provider.issuer is None:
            raise UnknownProvider(f"provider {name!r} needs an issuer or a token_url in {where}")
        return provider

    def _configured(self) -> _Entries:
        if self._path is None:
            return {}, {}
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return {}, {}
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        try:
            raw = read_regular(self._path, follow_symlinks=True)
            data = tomllib.loads((raw or b"").decode("utf-8"))
        except UnsafeFile as exc:
            raise InvalidArgument(str(exc)) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            # The file as a whole cannot be read: no entry of it can be trusted.
            raise InvalidArgument(f"{self._path}: {exc}") from None
        entries = parse_entries(data, source=str(self._path))
        self._cache = (stamp, entries)
        return entries

    def _warn(self, entries: _Entries) -> None:
        """Name the bad entries, once per version of the file."""
        if self._warned is entries:
            return
        self._warned = entries
        for error in entries[1].values():
            log.warning("%s (only that provider is unusable until it is fixed)", error.message)


_Entries = tuple[dict[str, Provider], dict[str, InvalidArgument]]


def parse_entries(data: Mapping[str, Any], *, source: str = "providers.toml") -> _Entries:
    """The good entries by name, and the error of each bad one."""
    for key in data:
        if key != "providers":
            # A typo such as [provider.x] would otherwise leave the user wondering why
            # their provider is unknown.
            hint = " (did you mean [providers.NAME]?)" if key.startswith("provider") else ""
            log.warning("%s: ignoring unknown table or key %r%s", source, key, hint)
    table = data.get("providers", {})
    if not isinstance(table, dict):
        raise InvalidArgument(f"{source}: [providers] must be a table")
    good: dict[str, Provider] = {}
    broken: dict[str, InvalidArgument] = {}
    for name, spec in table.items():
        try:
            validate_service(name)
        except InvalidArgument:
            # Not a name anyone can look up: it can only be reported.
            log.warning("%s: invalid provider name %.64r ignored", source, name)
            continue
        try:
            if not isinstance(spec, dict):
                raise InvalidArgument(f"{source}: [providers.{name}] must be a table")
            good[name] = _parse_one(name, spec, source)
        except InvalidArgument as exc:
            broken[name] = exc
    return good, broken


def parse_providers(
    data: Mapping[str, Any], *, source: str = "providers.toml"
) -> dict[str, Provider]:
    """Every entry, or the error of the first bad one."""
    good, broken = parse_entries(data, source=source)
    for error in broken.values():
        raise error
    return good


def _parse_one(name: str, spec: Mapping[str, Any], source: str) -> Provider:
    where = f"{source}: providers.{name}"
    # Before the unknown-key check: a secret in the file gets its own advice, not a
    # generic "unknown key".
    if "client_secret" in spec:
        raise InvalidArgument(f"{where}: use `sigilforge provider set-secret {name}`")
    unknown = set(spec) - _KNOWN_KEYS
    if unknown:
        raise InvalidArgument(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    base = BUILTIN.get(name, Provider(name=name))
    changes: dict[str, Any] = {}
    for key in _URL_KEYS:
        if key in spec:
            changes[key] = check_endpoint(spec[key], what=f"{where}.{key}").rstrip(
                "/" if key == "issuer" else ""
            )
    client_id = spec.get("client_id", "")
    if not isinstance(client_id, str):
        raise InvalidArgument(f"{where}.client_id must be a string")
    changes["client_id"] = client_id
    if "scopes" in spec:
        scopes = spec["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
            raise InvalidArgument(f"{where}.scopes must be a list of strings")
        changes["scopes"] = tuple(scopes)
    if "authorize_params" in spec:
        params = spec["authorize_params"]
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise InvalidArgument(f"{where}.authorize_params must be a table of strings")
        changes["authorize_params"] = dict(params)
    if "token_auth_method" in spec:
        method = spec["token_auth_method"]
        if method not in ("client_secret_basic", "client_secret_post"):
            raise InvalidArgument(
                f"{where}.token_auth_method is client_secret_basic or client_secret_post"
            )
        changes["token_auth_method"] = method
    if "redirect_uri" in spec:
        changes["redirect_uri"] = check_redirect_uri(
            spec["redirect_uri"], what=f"{where}.redirect_uri"
        )
    if not base.builtin and "issuer" not in changes and "token_url" not in changes:
        raise InvalidArgument(f"{where}: give issuer, or authorize_url and token_url")
    return base.with_(**changes)
