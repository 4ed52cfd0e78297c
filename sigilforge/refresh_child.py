"""``python -m sigilforge.refresh_child``: one refresh transaction for the daemon.

Started by ``sigilforge.isolated_refresh.ChildRefresh`` (the mechanism and the reasons
are described there), never by hand. It hardens itself as the daemon does (no core, not
dumpable: it holds tokens), opens a broker of its own on the same files and store, runs
the in-process refresh in its main thread (so SIGTERM, SIGINT and SIGHUP wait while a
rotated token is unsaved) and writes the report as one JSON line on stdout. Its exit
status is 0 whenever it could answer; log lines go to stderr, which is the daemon's.
"""

from __future__ import annotations

import logging
import signal
import sys

from sigilforge.errors import SigilforgeError, describe_unexpected
from sigilforge.isolated_refresh import RefreshReport, answer, request_from_argv

__all__ = ["main"]

log = logging.getLogger("sigilforge.refresh_child")


def main(argv: list[str] | None = None) -> int:
    # A daemon gone before the answer is no reason to die before the save: EPIPE only.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    from sigilforge.hardening import harden_process

    harden_process()  # before any secret is read
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sigilforge-refresh: %(levelname)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.WARNING)
    try:
        request = request_from_argv(sys.argv[1:] if argv is None else argv)
        from sigilforge.broker import Broker

        with Broker.open(keep_unsaved=request.keep_unsaved) as broker:
            report = broker.report_refresh(request)
    except SigilforgeError as exc:
        report = RefreshReport(error=exc)
    except Exception as exc:
        log.error("refresh failed: %s", describe_unexpected(exc))
        report = RefreshReport(error=SigilforgeError("internal error in the refresh process"))
    answer(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
