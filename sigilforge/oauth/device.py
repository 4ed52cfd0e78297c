"""The device authorization grant (RFC 8628), for machines without a usable browser.

``authorize`` asks for a device code (the user sees ``verification_uri`` and
``user_code``); ``poll`` then asks the token endpoint at the server's ``interval`` until
the user has decided. ``slow_down`` adds 5 seconds to the interval for good (section
3.5); ``expired_token`` ends in ``Timeout`` and ``access_denied`` in ``AccessDenied``, so
the user can tell "too late" from "refused". A temporary failure while polling (a 5xx, a
dropped connection) is waited out, not fatal: the code stays valid.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sigilforge.errors import AccessDenied, Cancelled, NetworkError, ProviderError, Timeout
from sigilforge.model import TokenSet
from sigilforge.oauth.client import Client
from sigilforge.oauth.errors import (
    AccessDeniedError,
    AuthorizationPendingError,
    ExpiredTokenError,
    SlowDownError,
)
from sigilforge.oauth.http import Http
from sigilforge.oauth.token_endpoint import DEVICE_GRANT, oauth_error, parse_token, request

__all__ = ["DeviceAuthorization", "authorize", "poll"]

log = logging.getLogger(__name__)

_DEFAULT_INTERVAL = 5.0
_SLOW_DOWN_STEP = 5.0


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float

    def prompt(self) -> dict[str, str]:
        shown = {
            "verification_uri": self.verification_uri,
            "user_code": self.user_code,
            "expires_in": str(int(self.expires_in)),
        }
        if self.verification_uri_complete:
            shown["verification_uri_complete"] = self.verification_uri_complete
        return shown


def authorize(http: Http, url: str, client: Client, scopes: tuple[str, ...]) -> DeviceAuthorization:
    form = {"scope": " ".join(scopes)} if scopes else {}
    body, auth = client.form_and_auth(form)
    reply = http.post_form(url, body, what="device authorization endpoint", auth=auth)
    error = oauth_error(reply, what="device authorization", secrets=client.secrets())
    if error is not None:
        raise error
    data = reply.json_object()
    if reply.status != 200 or data is None:
        raise ProviderError(f"device authorization endpoint answered HTTP {reply.status}")
    device_code = data.get("device_code")
    user_code = data.get("user_code")
    # Google still says verification_url, from a draft of the RFC.
    uri = data.get("verification_uri") or data.get("verification_url")
    if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
        raise ProviderError("device authorization answer lacks a code or a verification URI")
    complete = data.get("verification_uri_complete")
    try:
        expires_in = float(data.get("expires_in", 600))
        interval = float(data.get("interval", _DEFAULT_INTERVAL))
    except (TypeError, ValueError):
        raise ProviderError("device authorization answer has malformed numbers") from None
    return DeviceAuthorization(
        device_code=str(device_code),
        user_code=str(user_code),
        verification_uri=str(uri),
        verification_uri_complete=complete if isinstance(complete, str) and complete else None,
        expires_in=expires_in,
        interval=max(interval, 1.0),
    )


def poll(
    http: Http,
    url: str,
    client: Client,
    grant: DeviceAuthorization,
    *,
    scopes: tuple[str, ...],
    timeout: float,
    cancelled: threading.Event,
    now: Callable[[], float] = time.time,
) -> TokenSet:
    """Poll until the user approves (the token set), refuses or the code expires."""
    deadline = time.monotonic() + min(timeout, grant.expires_in)
    interval = grant.interval
    form = {"grant_type": DEVICE_GRANT, "device_code": grant.device_code}
    secrets = (grant.device_code, *client.secrets())
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout("the device code expired before it was approved")
        if cancelled.wait(min(interval, remaining)):
            raise Cancelled("cancelled")
        try:
            reply = request(http, url, client, form)
        except (NetworkError, Timeout) as exc:
            log.info("device flow: polling failed (%s); trying again", exc.code)
            continue
        if reply.status >= 500 or reply.status == 429:
            continue
        error = oauth_error(reply, what="device flow", secrets=secrets)
        if error is None:
            return parse_token(reply, scopes=scopes, now=now, secrets=secrets)
        if isinstance(error, SlowDownError):
            interval += _SLOW_DOWN_STEP
            continue
        if isinstance(error, AuthorizationPendingError):
            continue
        if isinstance(error, ExpiredTokenError):
            raise Timeout("the device code expired before it was approved")
        if isinstance(error, AccessDeniedError):
            raise AccessDenied("the sign-in was refused")
        raise error
