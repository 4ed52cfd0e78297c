"""Pick the secret store the configuration asks for."""

from __future__ import annotations

import logging

from sigilforge.errors import StoreUnavailable
from sigilforge.store.base import SecretKey, SecretKind, SecretStore

__all__ = ["open_store"]

log = logging.getLogger(__name__)

# A key that never holds anything: reading it tells whether the store answers at all.
_PROBE = SecretKey("sigilforge", "probe", SecretKind.CLIENT_SECRET)


def open_store(choice: str = "auto") -> SecretStore:
    """``secret-service``, ``keyring``, or ``auto``: the Secret Service when one answers,
    else a secure ``keyring`` backend, else ``StoreUnavailable``. Never plaintext."""
    from sigilforge.store.secret_service import SecretServiceStore

    if choice == "secret-service":
        return SecretServiceStore()
    if choice == "keyring":
        from sigilforge.store.keyring import KeyringStore

        return KeyringStore()
    return _AutoStore()


class _AutoStore:
    """Secret Service first; decided on first use, so opening costs nothing."""

    name = "auto"

    def __init__(self) -> None:
        from sigilforge.store.secret_service import SecretServiceStore

        self._primary = SecretServiceStore()
        self._chosen: SecretStore | None = None

    def _store(self) -> SecretStore:
        if self._chosen is not None:
            return self._chosen
        try:
            self._primary.get(_PROBE)
            self._chosen = self._primary
        except StoreUnavailable as primary_error:
            from sigilforge.store.keyring import KeyringStore

            try:
                self._chosen = KeyringStore(_non_secret_service_backend())
            except StoreUnavailable:
                raise primary_error from None
            log.info("no Secret Service; using keyring backend %s", self._chosen.name)
        return self._chosen

    @property
    def active(self) -> SecretStore | None:
        return self._chosen

    def get(self, key: SecretKey) -> str | None:
        return self._store().get(key)

    def set(self, key: SecretKey, value: str) -> None:
        self._store().set(key, value)

    def delete(self, key: SecretKey) -> bool:
        return self._store().delete(key)

    def close(self) -> None:
        if self._chosen is not None:
            self._chosen.close()
        self._primary.close()


def _non_secret_service_backend() -> object:
    # keyring's own SecretService backend would fail the same way ours just did.
    import keyring.backend
    import keyring.backends.chainer

    candidates = [
        b
        for b in keyring.backend.get_all_keyring()
        if "SecretService" not in type(b).__module__
        and not isinstance(b, keyring.backends.chainer.ChainerBackend)
    ]
    candidates.sort(key=lambda b: b.priority, reverse=True)
    if not candidates:
        raise StoreUnavailable("no keyring backend")
    return candidates[0]
