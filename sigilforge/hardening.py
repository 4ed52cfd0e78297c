"""Process hardening for the daemon, as ssh-agent does it: no core dump and no dumpable flag.

A core of a daemon that served tokens holds copies of them; a process that is not
dumpable also refuses same-uid ``ptrace`` and ``/proc/PID/mem`` readers.
"""

from __future__ import annotations

import ctypes
import logging
import resource
import sys

log = logging.getLogger(__name__)

_PR_SET_DUMPABLE = 4


def harden_process() -> None:
    """Best effort: a platform without these keeps running, with a debug line saying so."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        log.debug("cannot set RLIMIT_CORE to 0: %s", exc)
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            log.debug("prctl(PR_SET_DUMPABLE, 0) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        log.debug("prctl unavailable: %s", exc)
