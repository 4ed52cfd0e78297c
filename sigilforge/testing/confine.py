"""Run a command that sees a config dir it cannot write: read-only, or full.

As root, ``chmod`` stops nothing, so the command runs in a mount namespace of its own
(``unshare -m``): the dir is bind-mounted read-only onto itself, or replaced by a tiny
tmpfs holding a copy of its files plus a filler that takes every free byte. Nothing
outside that one process sees either mount. Without root, a read-only dir is a
``chmod 0500`` for the command's lifetime (``confined`` returns None for a full disk,
which then cannot be made)."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

__all__ = ["available", "confined"]

_READ_ONLY = 'mount --bind "$D" "$D" && mount -o remount,bind,ro "$D"'
_FULL = (
    'T=$(mktemp -d) && cp -a "$D"/. "$T"/ && mount -t tmpfs -o size=256k,mode=0700 tmpfs "$D"'
    ' && cp -a "$T"/. "$D"/ && rm -rf "$T" && (dd if=/dev/zero of="$D/.filler" bs=4k'
    " 2>/dev/null || true)"
)


def available(kind: str) -> bool:
    """Whether ``kind`` ("read-only" or "full") can be made here."""
    if os.geteuid() != 0:
        return kind == "read-only"
    return shutil.which("unshare") is not None


def confined(argv: list[str], directory: Path, kind: str) -> list[str]:
    """``argv`` wrapped so that it sees ``directory`` as ``kind``."""
    if os.geteuid() != 0:
        if kind != "read-only":
            raise RuntimeError("a full disk needs root (a tmpfs in a mount namespace)")
        d = shlex.quote(str(directory))
        run = shlex.join(argv)
        return ["sh", "-c", f"chmod 0500 {d}; {run}; s=$?; chmod 0700 {d}; exit $s"]
    setup = _READ_ONLY if kind == "read-only" else _FULL
    script = f'set -e; {setup}; set +e; exec "$@"'
    return [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "env",
        f"D={directory}",
        "sh",
        "-c",
        script,
        "sh",
        *argv,
    ]
