"""The D-Bus activation file and the systemd user unit, for distro and pip installs.

The templates are the ones shipped in ``data/`` (meson fills ``@bindir@`` for a distro
install; a test keeps the copies here equal to those files). ``install_user`` writes
them for a pip/pipx install, with ``Exec=`` pointing at the ``sigilforge-daemon`` that
belongs to this very installation.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from sigilforge.dbus.names import BUS_NAME
from sigilforge.errors import InvalidArgument

__all__ = [
    "DBUS_SERVICE_TEMPLATE",
    "SYSTEMD_UNIT_TEMPLATE",
    "UserFiles",
    "find_daemon",
    "install_user",
    "uninstall_user",
    "user_files",
]

DBUS_SERVICE_TEMPLATE = f"""\
# D-Bus activation: the first call to {BUS_NAME} starts the broker.
# Under systemd the user manager starts sigilforge.service instead of Exec=.
[D-BUS Service]
Name={BUS_NAME}
Exec=@bindir@/sigilforge-daemon
SystemdService=sigilforge.service
"""

SYSTEMD_UNIT_TEMPLATE = f"""\
[Unit]
Description=Sigilforge credential broker ({BUS_NAME})

[Service]
Type=dbus
BusName={BUS_NAME}
ExecStart=@bindir@/sigilforge-daemon
# No Restart=: the daemon exits when idle and D-Bus starts it again on the next call.
# Sandboxing that needs mount namespaces (PrivateTmp=, ProtectHome=) is left out: user
# managers without unprivileged user namespaces would refuse to start the unit.
NoNewPrivileges=yes
"""


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
        (files.dbus_service, DBUS_SERVICE_TEMPLATE),
        (files.systemd_unit, SYSTEMD_UNIT_TEMPLATE),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render(template, daemon))
        tmp.replace(path)
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
