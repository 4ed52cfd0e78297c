"""A marker secret, and where it shows up.

Tests that add credentials use values containing ``MARKER`` (the ``AuthServer`` can put
it in every token it issues), then assert it never appears where secrets must not be:
errors, logs, metadata, signals, files.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MARKER", "files_containing"]

MARKER = "sfmarker-5ecret-7e57"


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every regular file under ``root`` whose bytes contain ``needle``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle.encode() in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found
