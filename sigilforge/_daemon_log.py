"""The daemon's logging: stderr (the journal under systemd), and errors also to the log
file that error replies name when dbus-daemon started us without systemd.

Lines carry account names and error codes, never a secret.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["setup_logging"]


def setup_logging(verbose: int) -> None:
    # journald stamps each line itself; a terminal gets the time from us.
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{stamp}sigilforge-daemon: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if not os.environ.get("JOURNAL_STREAM"):
        # Started by dbus-daemon itself, stderr goes wherever the session sends it (often
        # nowhere a user looks): errors also go to the file the error replies name.
        _add_error_file(root)
    root.setLevel(logging.WARNING)
    # Only our own loggers get louder: library debug output may dump message bodies.
    logging.getLogger("sigilforge").setLevel(logging.INFO - 10 * min(verbose, 1))


def _add_error_file(root: logging.Logger) -> None:
    handler = _ErrorFile()
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(asctime)s sigilforge-daemon: %(message)s"))
    root.addHandler(handler)


class _ErrorFile(logging.Handler):
    """Appends each error to the log file, created (0600) only when there is one: a
    daemon that has nothing to report leaves no file behind."""

    def emit(self, record: logging.LogRecord) -> None:
        from sigilforge import paths

        try:
            path = paths.log_file()
            paths.ensure_private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(self.format(record) + "\n")
        except (OSError, ValueError):
            pass  # stderr has it already; a broken log file must not break the daemon
