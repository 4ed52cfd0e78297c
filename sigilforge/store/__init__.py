"""Secret storage: one protocol, one backend a module.

- ``secret_service``: the freedesktop Secret Service API (gnome-keyring, KeePassXC, ...),
  the primary store.
- ``keyring``: the ``keyring`` package's best backend, for desktops without a Secret
  Service; a plaintext or failing keyring backend is refused, never used silently.
- ``memory``: a dict, for unit tests only.
"""

from __future__ import annotations

from sigilforge.store.base import SCHEMA, SecretKey, SecretKind, SecretStore
from sigilforge.store.open import open_store

__all__ = ["SCHEMA", "SecretKey", "SecretKind", "SecretStore", "open_store"]
