"""Resolver: turns a reference into the secret it names.

- ``auth://SERVICE/ACCOUNT`` -> the access token (or the API key of an API-key account)
- ``auth://SERVICE/ACCOUNT/FIELD`` -> ``token``, ``access_token``, ``api_key``,
  ``username`` or ``expires_at``
- ``vals:ref+...`` or ``ref+...`` -> the ``vals`` binary, when ``enable_vals`` is set and
  the backend is allowed (``VALS_BACKENDS`` plus the config's ``vals_backends``), run
  without a shell and with a time limit; results are kept ``cache_ttl_secs``.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from sigilforge.accounts import AccountStore
from sigilforge.config import Config
from sigilforge.errors import InvalidReference, ProviderError, Timeout
from sigilforge.model import AccountKind
from sigilforge.refs import VALS_PREFIXES, CredentialRef, Field, is_auth_reference
from sigilforge.tokens import TokenManager

__all__ = ["VALS_BACKENDS", "Resolver"]

# vals backends that fetch from a remote secret manager. The others run local code
# (exec), read local files (file, sops, tfstate...) or the environment (envsubst): a
# reference in a shared template must not reach those unless the user says so. Left out
# too: httpjson (any URL, loopback included) and bitwarden (a local `bw serve`).
VALS_BACKENDS = frozenset(
    {
        "echo",
        "vault",
        "awssecrets",
        "awsssm",
        "gcpsecrets",
        "azurekeyvault",
        "doppler",
        "gitlab",
        "onepasswordconnect",
    }
)
_VALS_REF = re.compile(r"ref\+([a-z0-9]+)://")

log = logging.getLogger(__name__)

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


class Resolver:
    def __init__(
        self,
        accounts: AccountStore,
        tokens: TokenManager,
        config: Config,
        *,
        run: Runner = subprocess.run,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._config = config
        self._run = run
        self._clock = clock
        self._vals_cache: dict[str, tuple[float, str]] = {}
        self._vals_lock = threading.Lock()

    def resolve(self, text: str) -> str:
        if not isinstance(text, str) or not text:
            raise InvalidReference("empty reference")
        if is_auth_reference(text):
            return self._resolve_auth(CredentialRef.parse(text))
        if text.startswith(VALS_PREFIXES):
            return self._resolve_vals(text.removeprefix("vals:"))
        raise InvalidReference("a reference starts with auth://, vals:ref+ or ref+")

    def _resolve_auth(self, ref: CredentialRef) -> str:
        if ref.field in (None, Field.TOKEN):
            return self._tokens.ensure_access_token(ref.service, ref.account).token
        acc = self._accounts.get(ref.service, ref.account)
        if ref.field is Field.USERNAME:
            return acc.account
        if ref.field is Field.API_KEY or ref.field is Field.ACCESS_TOKEN:
            wanted = AccountKind.API_KEY if ref.field is Field.API_KEY else AccountKind.OAUTH2
            if acc.kind is not wanted:
                raise InvalidReference(f"{ref.service}/{ref.account} has no {ref.field} field")
            if wanted is AccountKind.API_KEY:
                return self._tokens.api_key(acc)
            return self._tokens.ensure_access_token(ref.service, ref.account).token
        # Field.EXPIRES_AT
        token = self._tokens.ensure_access_token(ref.service, ref.account)
        return str(token.expires_at or 0)

    def _resolve_vals(self, ref: str) -> str:
        if not ref.startswith("ref+") or any(c in ref for c in "\n\r\0"):
            raise InvalidReference("a vals reference looks like ref+BACKEND://PATH")
        if not self._config.enable_vals:
            raise InvalidReference("vals references are off; set enable_vals = true in config.toml")
        shape = _VALS_REF.match(ref)
        if shape is None:
            raise InvalidReference("a vals reference looks like ref+BACKEND://PATH")
        backend = shape.group(1)
        if backend not in VALS_BACKENDS and backend not in self._config.vals_backends:
            raise InvalidReference(
                f"the vals backend {backend!r} is not allowed; add it to vals_backends in"
                " config.toml if you trust every reference you resolve"
            )
        now = self._clock()
        with self._vals_lock:
            hit = self._vals_cache.get(ref)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = self._call_vals(ref)
        if self._config.cache_ttl_secs > 0:
            with self._vals_lock:
                self._vals_cache[ref] = (now + self._config.cache_ttl_secs, value)
        return value

    def _call_vals(self, ref: str) -> str:
        argv = [self._config.vals_path, "get", ref]
        kwargs: dict[str, Any] = {
            "capture_output": True,
            "timeout": self._config.vals_timeout_secs,
            "stdin": subprocess.DEVNULL,
            "check": False,
        }
        try:
            proc = self._run(argv, **kwargs)
        except FileNotFoundError:
            raise ProviderError(
                f"vals is enabled but {self._config.vals_path!r} was not found"
            ) from None
        except subprocess.TimeoutExpired:
            raise Timeout(f"vals took longer than {self._config.vals_timeout_secs:g} s") from None
        if proc.returncode != 0:
            # vals' stderr can quote the secret's surroundings; it stays out of the error.
            log.debug("vals exited %d", proc.returncode)
            raise ProviderError(f"vals could not resolve the reference (exit {proc.returncode})")
        return proc.stdout.decode("utf-8", "replace").rstrip("\n")
