"""``python -m sigilforge.refresh_child``: one refresh transaction for the daemon.

Started by ``sigilforge.isolated_refresh.ChildRefresh`` (the mechanism and the reasons
are described there), never by hand. It hardens itself as the daemon does (no core, not
dumpable: it holds tokens), opens a broker of its own on the same files and store, runs
the in-process refresh in its main thread and writes the report as one JSON line on
stdout. SIGTERM, SIGINT and SIGHUP wait for the whole job, answer included (a rotated
token is saved and the daemon told), then take their usual effect; otherwise its exit
status is 0 whenever it could answer. Log lines go to stderr, which is the daemon's.
"""

from __future__ import annotations

import logging
import signal
import sys

from sigilforge.errors import SigilforgeError, describe_unexpected
from sigilforge.isolated_refresh import RefreshReport, answer, request_from_argv
from sigilforge.refresh_guard import deferred_signals

__all__ = ["main"]

log = logging.getLogger("sigilforge.refresh_child")


def main(argv: list[str] | None = None) -> int:
    # A daemon gone before the answer is no reason to die before the save: EPIPE only.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # No terminal reaches this process (its own session): SIGINT ends it as SIGTERM
    # does, by the signal, rather than as a KeyboardInterrupt traceback in the log.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from sigilforge.hardening import harden_process

    harden_process()  # before any secret is read
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sigilforge-refresh: %(levelname)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.WARNING)
    # The whole job holds SIGTERM, SIGINT and SIGHUP, not only the rotation window: one
    # delivered when the window closes would end the process after its save and before
    # its answer, and the daemon would report a refresh that worked as one that ended
    # without an answer. The job is bounded by its own time limits; the signal takes its
    # usual effect once the answer is written.
    with deferred_signals():
        answer(_refresh(sys.argv[1:] if argv is None else argv))
    return 0


def _refresh(argv: list[str]) -> RefreshReport:
    try:
        request = request_from_argv(argv)
        from sigilforge.broker import Broker

        with Broker.open(keep_unsaved=request.keep_unsaved) as broker:
            return broker.report_refresh(request)
    except SigilforgeError as exc:
        return RefreshReport(error=exc)
    except Exception as exc:
        log.error("refresh failed: %s", describe_unexpected(exc))
        return RefreshReport(error=SigilforgeError("internal error in the refresh process"))


if __name__ == "__main__":
    sys.exit(main())
