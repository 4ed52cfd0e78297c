"""The daemon's Secret Service session, asked for while the daemon is still starting.

Activation spends tens of milliseconds importing before it can answer. The session
needs none of that: connecting, authenticating and ``OpenSession`` go out in one write
(``BusConnection`` pipelines them) before the imports, and gnome-keyring does its half of
the key exchange in its own process meanwhile. The first read then finds the answer
waiting, and the first token is one ``SearchItems`` and one ``GetSecrets`` away.
No thread: one doing Python work beside the imports would hold up each of them, as
the imports release the interpreter lock at every file read. Opening a session reads
and changes nothing in the keyring.

``start`` (the daemon, once) sends it; the first ``SecretServiceStore`` made afterwards
``claim``s the reader; ``discard`` closes one nobody claimed (a store other than the
Secret Service was configured). A read-ahead that cannot even connect is dropped: the
store connects itself and reports what goes wrong then.
"""

from __future__ import annotations

import threading

from sigilforge.store.secret_read import SecretReader

__all__ = ["claim", "discard", "start"]

_pending: SecretReader | None = None
_lock = threading.Lock()


def start(timeout: float = 2.0) -> None:
    global _pending
    with _lock:
        if _pending is not None:
            return
        try:
            reader = SecretReader(timeout=timeout)
        except OSError:
            return
        try:
            reader.begin_session()
        except OSError:
            reader.close()
            return
        _pending = reader


def claim() -> SecretReader | None:
    global _pending
    with _lock:
        reader, _pending = _pending, None
    return reader


def discard() -> None:
    reader = claim()
    if reader is not None:
        reader.close()
