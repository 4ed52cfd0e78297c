"""The D-Bus activation file and the systemd user unit, for distro and pip installs.

The templates are the packaged files of ``data/`` (meson fills ``@bindir@`` from the same
files for a distro install). ``install_user`` writes
them for a pip/pipx install, with ``Exec=`` pointing at the ``sigilforge-daemon`` that
belongs to this very installation.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from sigilforge.dbus import shipped
from sigilforge.dbus.names import BUS_NAME
from sigilforge.errors import InvalidArgument
from sigilforge.fileio import write_atomic

__all__ = [
    "UserFiles",
    "dbus_service_template",
    "find_daemon",
    "install_user",
    "systemd_unit_template",
    "uninstall_user",
    "user_files",
]


def dbus_service_template() -> str:
    return shipped.read(shipped.DBUS_SERVICE)


def systemd_unit_template() -> str:
    return shipped.read(shipped.SYSTEMD_UNIT)


@dataclass(frozen=True, slots=True)
class UserFiles:
    dbus_service: Path
    systemd_unit: Path


def user_files() -> UserFiles:
    """Where a per-user install goes, by the XDG base directory rules."""
    home = Path.home()
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return UserFiles(
        dbus_service=data / "dbus-1" / "services" / f"{BUS_NAME}.service",
        systemd_unit=config / "systemd" / "user" / "sigilforge.service",
    )


def find_daemon() -> Path:
    """The ``sigilforge-daemon`` of this installation: beside the interpreter for a
    venv or pipx install, else the one on PATH."""
    beside = Path(sys.executable).parent / "sigilforge-daemon"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("sigilforge-daemon")
    if found is None:
        raise InvalidArgument("cannot find the sigilforge-daemon program of this install")
    return Path(found).absolute()


def render(template: str, daemon: Path) -> str:
    if any(c.isspace() for c in str(daemon)):
        # Exec= lines are split on whitespace; quoting rules differ between D-Bus and
        # systemd, so a path with spaces is refused rather than half-quoted.
        raise InvalidArgument(f"the daemon's path has whitespace in it: {daemon}")
    return template.replace("@bindir@/sigilforge-daemon", str(daemon))


def install_user(daemon: Path | None = None) -> UserFiles:
    daemon = daemon or find_daemon()
    files = user_files()
    for path, template in (
        (files.dbus_service, dbus_service_template()),
        (files.systemd_unit, systemd_unit_template()),
    ):
        # Explicit modes whatever the umask: others may read these files, never edit them.
        write_atomic(path, render(template, daemon).encode(), mode=0o644, dir_mode=0o755)
    return files


def uninstall_user() -> list[Path]:
    """Remove what ``install_user`` wrote (and only files naming our bus name)."""
    removed = []
    files = user_files()
    for path in (files.dbus_service, files.systemd_unit):
        try:
            if BUS_NAME not in path.read_text():
                continue
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
    return removed
