"""Resolver: turns a reference into the secret it names.

- ``auth://SERVICE/ACCOUNT`` -> the access token (or the API key of an API-key account)
- ``auth://SERVICE/ACCOUNT/FIELD`` -> ``token``, ``api_key`` or ``expires_at``
- ``vals:ref+...`` or ``ref+...`` -> the ``vals`` binary, when ``enable_vals`` is set,
  run without a shell and with a time limit; results are kept ``cache_ttl_secs``.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from sigilforge.accounts import AccountStore
from sigilforge.config import Config
from sigilforge.errors import InvalidReference, ProviderError, Timeout
from sigilforge.model import AccountKind
from sigilforge.refs import CredentialRef, Field, is_auth_reference
from sigilforge.tokens import TokenManager

__all__ = ["Resolver"]

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
        if text.startswith(("vals:", "ref+")):
            return self._resolve_vals(text.removeprefix("vals:"))
        raise InvalidReference("a reference starts with auth://, vals:ref+ or ref+")

    def _resolve_auth(self, ref: CredentialRef) -> str:
        if ref.field in (None, Field.TOKEN):
            return self._tokens.ensure_access_token(ref.service, ref.account).token
        acc = self._accounts.get(ref.service, ref.account)
        if ref.field is Field.API_KEY:
            if acc.kind is not AccountKind.API_KEY:
                raise InvalidReference(f"{ref.service}/{ref.account} has no api_key field")
            return self._tokens.api_key(acc)
        # Field.EXPIRES_AT
        token = self._tokens.ensure_access_token(ref.service, ref.account)
        return str(token.expires_at or 0)

    def _resolve_vals(self, ref: str) -> str:
        if not ref.startswith("ref+") or any(c in ref for c in "\n\r\0"):
            raise InvalidReference("a vals reference looks like ref+BACKEND://PATH")
        if not self._config.enable_vals:
            raise InvalidReference("vals references are off; set enable_vals = true in config.toml")
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
