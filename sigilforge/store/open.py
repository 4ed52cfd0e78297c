"""Pick the secret store the configuration asks for."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from sigilforge.errors import StoreUnavailable
from sigilforge.store.base import SecretKey, SecretStore

__all__ = ["open_store"]

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    """Secret Service first, decided by the first call that reaches it: a fallback is
    chosen only when that call finds no Secret Service at all (never when it is locked),
    and once chosen the store never changes for the life of the process."""

    name = "auto"

    def __init__(self) -> None:
        from sigilforge.store.secret_service import SecretServiceStore

        self._primary = SecretServiceStore()
        self._chosen: SecretStore | None = None

    def _do(self, op: Callable[[SecretStore], T]) -> T:
        if self._chosen is not None:
            return op(self._chosen)
        try:
            result = op(self._primary)
        except StoreUnavailable as primary_error:
            from sigilforge.store.keyring import KeyringStore

            try:
                backend = _non_secret_service_backend()
                fallback = KeyringStore(backend)
            except StoreUnavailable:
                raise primary_error from None
            # The keyring backend's own class (e.g. KWallet), not our wrapper's.
            log.info("no Secret Service; using keyring backend %s", type(backend).__name__)
            self._chosen = fallback
            return op(fallback)
        self._chosen = self._primary
        return result

    @property
    def active(self) -> SecretStore | None:
        return self._chosen

    def get(self, key: SecretKey) -> str | None:
        return self._do(lambda store: store.get(key))

    def set(self, key: SecretKey, value: str) -> None:
        self._do(lambda store: store.set(key, value))

    def delete(self, key: SecretKey) -> bool:
        return self._do(lambda store: store.delete(key))

    def present(self, keys: Sequence[SecretKey]) -> frozenset[SecretKey]:
        return self._do(lambda store: store.present(keys))

    def close(self) -> None:
        if self._chosen is not None and self._chosen is not self._primary:
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
