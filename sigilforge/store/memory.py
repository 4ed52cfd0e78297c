"""A dict behind the ``SecretStore`` protocol: for unit tests, never for real secrets."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sigilforge.errors import StoreLocked
from sigilforge.store.base import SecretKey

__all__ = ["MemoryStore"]


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        self._items: dict[SecretKey, str] = {}
        self._lock = threading.Lock()
        self.locked = False

    def _check(self) -> None:
        if self.locked:
            raise StoreLocked("the memory store is locked")

    def get(self, key: SecretKey) -> str | None:
        self._check()
        with self._lock:
            return self._items.get(key)

    def set(self, key: SecretKey, value: str) -> None:
        self._check()
        with self._lock:
            self._items[key] = value

    def delete(self, key: SecretKey) -> bool:
        self._check()
        with self._lock:
            return self._items.pop(key, None) is not None

    def present(self, keys: Sequence[SecretKey]) -> frozenset[SecretKey]:
        self._check()
        with self._lock:
            return frozenset(key for key in keys if key in self._items)

    def close(self) -> None:
        pass
