"""The token endpoint (RFC 6749 sections 4.1.3, 5 and 6): code exchange and refresh.

What an answer means, and so what the caller may do with the tokens it holds:

- 200 with a JSON token: the new token set (``obtained_at`` stamped here).
- 400/401 with an OAuth error: ``invalid_grant`` on refresh is ``ReauthRequired`` (the
  grant is gone); any other code is the ``oauth.errors`` class for it, ``transient`` for
  ``server_error``/``temporarily_unavailable``/``slow_down``.
- 5xx, 429, a timeout or a broken connection: a transient ``ProviderError`` /
  ``NetworkError`` / ``Timeout`` -- the caller keeps its tokens and retries.
- Anything else, including an HTML page or junk with status 200 (a captive portal, a
  proxy): ``ProviderError``; nothing is parsed out of it, so nothing is overwritten.

No error text carries a token, code, verifier or secret: provider descriptions are
dropped if they echo any value that was sent.
"""

from __future__ import annotations

import email.utils
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list

from sigilforge.errors import ProviderError, ReauthRequired
from sigilforge.model import TokenSet
from sigilforge.oauth.client import Client
from sigilforge.oauth.errors import InvalidGrantError, OAuth2Error, oauth_error_class
from sigilforge.oauth.http import Http, Reply
from sigilforge.redact import redact

__all__ = ["exchange_code", "oauth_error", "parse_token", "refresh", "request"]

log = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def exchange_code(
    http: Http,
    url: str,
    client: Client,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    scopes: tuple[str, ...],
    now: Callable[[], float],
) -> TokenSet:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    reply = request(http, url, client, form)
    return parse_token(reply, scopes=scopes, now=now, secrets=(code, verifier, *client.secrets()))


def refresh(
    http: Http, url: str, client: Client, tokens: TokenSet, *, now: Callable[[], float]
) -> TokenSet:
    """A new token set for ``tokens``' refresh token; its refresh token may be None (the
    caller keeps the old one then)."""
    if not tokens.refresh_token:
        raise ReauthRequired("there is no refresh token")
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    sent = (tokens.refresh_token, tokens.access_token, *client.secrets())
    reply = request(http, url, client, form)
    try:
        return parse_token(reply, scopes=tokens.scopes, now=now, secrets=sent)
    except InvalidGrantError as exc:
        raise ReauthRequired(f"the provider refused the refresh token ({exc.message})") from None


def request(http: Http, url: str, client: Client, form: Mapping[str, str]) -> Reply:
    body, auth = client.form_and_auth(dict(form))
    return http.post_form(url, body, what="token endpoint", auth=auth)


def oauth_error(reply: Reply, *, what: str, secrets: Iterable[str]) -> OAuth2Error | None:
    """The OAuth error in ``reply``, if it holds one (RFC 6749 section 5.2)."""
    data = reply.json_object()
    if data is None or not isinstance(data.get("error"), str):
        return None
    code = str(data["error"])[:64]
    description = data.get("error_description")
    text = f"{what}: {code}"
    if isinstance(description, str) and description:
        text += f": {redact(description, secrets)}"
    return oauth_error_class(code)(text, error=code)


def parse_token(
    reply: Reply,
    *,
    scopes: tuple[str, ...],
    now: Callable[[], float],
    secrets: Iterable[str] = (),
) -> TokenSet:
    secrets = tuple(secrets)
    if reply.status >= 500 or reply.status == 429:
        busy = ProviderError(
            f"token endpoint is unavailable (HTTP {reply.status}); try again", transient=True
        )
        busy.retry_after = retry_after_seconds(reply.retry_after, now())
        raise busy
    error = oauth_error(reply, what="token endpoint", secrets=secrets)
    if error is not None:
        # GitHub answers errors with status 200; the body decides, not the status.
        raise error
    if reply.status != 200:
        raise ProviderError(f"token endpoint answered HTTP {reply.status} without an OAuth error")
    data = reply.json_object()
    if data is None:
        raise ProviderError("token endpoint answered 200 with something that is not JSON")
    return _token_set(data, scopes=scopes, obtained_at=int(now()))


# What an odd ``expires_in`` becomes. Raising instead would drop a rotated refresh token
# the provider has already replaced: the answer is kept, its lifetime made safe.
MIN_LIFETIME = 1
MAX_LIFETIME = 366 * 24 * 3600
UNREADABLE_LIFETIME = 300


def lifetime(expires_in: object) -> int:
    """``expires_in`` as whole seconds in [MIN_LIFETIME, MAX_LIFETIME]: a huge or infinite
    one is capped, zero or negative raised to the minimum, and one that is not a number
    (or NaN) taken as a short lifetime, so the token is refreshed soon, not never."""
    try:
        seconds = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if isinstance(expires_in, bool) or math.isnan(seconds):
        log.warning(
            "token endpoint sent an unreadable expires_in; assuming %ss", UNREADABLE_LIFETIME
        )
        return UNREADABLE_LIFETIME
    if not MIN_LIFETIME <= seconds <= MAX_LIFETIME:
        log.warning("token endpoint sent expires_in out of range; clamped")
    return int(min(max(seconds, MIN_LIFETIME), MAX_LIFETIME))


def _token_set(data: dict[str, Any], *, scopes: tuple[str, ...], obtained_at: int) -> TokenSet:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderError("token endpoint answered without an access token")
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str):
        raise ProviderError("token endpoint sent a malformed token_type")
    refresh_token = data.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise ProviderError("token endpoint sent a malformed refresh token")
    expires_in = data.get("expires_in")
    expires_at = None if expires_in is None else obtained_at + lifetime(expires_in)
    granted = data.get("scope")
    if isinstance(granted, str) and granted.strip():
        # GitHub separates scopes with commas; RFC 6749 with spaces.
        scopes = tuple(s for s in (scope_to_list(granted.replace(",", " ")) or []) if s)
    id_token = data.get("id_token")
    return TokenSet(
        access_token=access,
        refresh_token=refresh_token,
        expires_at=expires_at,
        scopes=tuple(scopes),
        token_type="Bearer" if token_type.lower() == "bearer" else token_type,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        obtained_at=obtained_at,
    )


def retry_after_seconds(header: str | None, now: float) -> float | None:
    """Retry-After (RFC 9110 section 10.2.3) in seconds from now: delay-seconds or an
    HTTP date; None when absent or unreadable."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return float(min(int(text), 86400 * 7))
    try:
        when = email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - now)
