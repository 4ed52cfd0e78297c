"""The ``keyring`` package's backend, for desktops with no Secret Service (e.g. KWallet).

A backend that would keep secrets in plain text, or that only fails, is refused with
``StoreUnavailable``: choosing this store must never quietly lower the protection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from sigilforge.errors import StoreLocked, StoreUnavailable
from sigilforge.store.base import SecretKey

__all__ = ["KeyringStore", "is_secure_backend"]

_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


def is_secure_backend(backend: Any) -> bool:
    members = getattr(backend, "backends", None) or [backend]
    usable = [
        b
        for b in members
        if not type(b).__module__.startswith(_INSECURE_MODULES) and getattr(b, "priority", 0) > 0
    ]
    return bool(usable) and len(usable) == len(members)


class KeyringStore:
    name = "keyring"

    def __init__(self, backend: Any = None) -> None:
        import keyring
        import keyring.errors

        self._errors = keyring.errors
        self._backend = backend if backend is not None else keyring.get_keyring()
        if not is_secure_backend(self._backend):
            raise StoreUnavailable(
                f"the keyring backend {type(self._backend).__name__} is not a secure store"
            )
        self._lock = threading.Lock()

    @staticmethod
    def _names(key: SecretKey) -> tuple[str, str]:
        return (f"sigilforge/{key.kind.value}/{key.service}", key.account or "-")

    def _run(self, fn: Any, *args: Any) -> Any:
        errors = self._errors
        with self._lock:
            try:
                return fn(*args)
            except errors.KeyringLocked:
                raise StoreLocked("the keyring is locked; unlock it and retry") from None
            except errors.PasswordDeleteError:
                return False
            except (errors.KeyringError, OSError):
                raise StoreUnavailable("the keyring backend failed the request") from None

    def get(self, key: SecretKey) -> str | None:
        value = self._run(self._backend.get_password, *self._names(key))
        return value if isinstance(value, str) else None

    def set(self, key: SecretKey, value: str) -> None:
        self._run(self._backend.set_password, *self._names(key), value)

    def delete(self, key: SecretKey) -> bool:
        if self.get(key) is None:
            return False
        result = self._run(self._backend.delete_password, *self._names(key))
        return result is not False

    def present(self, keys: Sequence[SecretKey]) -> frozenset[SecretKey]:
        # keyring has no search: a read is the only way to tell.
        return frozenset(key for key in keys if self.get(key) is not None)

    def close(self) -> None:
        pass
