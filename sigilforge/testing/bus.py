"""A private ``dbus-daemon`` session bus, with its own service directory for activation."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

from sigilforge.testing.process import terminate

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={listen}</listen>
  <servicedir>{services}</servicedir>{session_dirs}
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """``with PrivateBus(root, env) as bus:`` sets ``env['DBUS_SESSION_BUS_ADDRESS']``.

    ``bus.services`` is the activation directory: drop ``*.service`` files there and call
    ``bus.reload()``. ``standard_dirs=True`` also reads the ones a desktop session bus
    reads (``$XDG_DATA_HOME/dbus-1/services``, each of ``$XDG_DATA_DIRS``), as ``env``
    names them -- but never the host's own (``/usr/share/dbus-1/services``), which
    ``<standard_session_servicedirs/>`` would add: a probe for the Secret Service could
    then start the host's gnome-keyring, locked, in place of the test's.
    """

    def __init__(self, root: Path, env: dict[str, str], *, standard_dirs: bool = False) -> None:
        self.root = root
        self.env = env
        self.standard_dirs = standard_dirs
        self.services = root / "dbus-services"
        self.address = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> PrivateBus:
        if shutil.which("dbus-daemon") is None:
            raise RuntimeError("dbus-daemon is not installed (apt-get install dbus)")
        self.services.mkdir(parents=True, exist_ok=True)
        sock_dir = self.root / "bus"
        sock_dir.mkdir(mode=0o700, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(
            _CONFIG.format(
                listen=escape(str(sock_dir)),
                services=escape(str(self.services)),
                session_dirs="".join(
                    f"\n  <servicedir>{escape(d)}</servicedir>" for d in self._session_dirs()
                ),
            )
        )
        read_fd, write_fd = os.pipe()
        self._proc = subprocess.Popen(
            [
                "dbus-daemon",
                f"--config-file={config}",
                "--nofork",
                "--nopidfile",
                f"--print-address={write_fd}",
            ],
            pass_fds=(write_fd,),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        deadline = time.monotonic() + timeout
        data = b""
        with os.fdopen(read_fd, "rb") as pipe:
            while b"\n" not in data:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("dbus-daemon did not print its address")
                chunk = pipe.read1(4096)
                if not chunk:
                    self.stop()
                    raise RuntimeError("dbus-daemon exited at start")
                data += chunk
        self.address = data.decode().strip()
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        return self

    def _session_dirs(self) -> list[str]:
        if not self.standard_dirs:
            return []
        data_home = self.env.get("XDG_DATA_HOME") or f"{self.env['HOME']}/.local/share"
        data_dirs = [d for d in self.env.get("XDG_DATA_DIRS", "").split(os.pathsep) if d]
        return [f"{d}/dbus-1/services" for d in (data_home, *data_dirs)]

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def reload(self) -> None:
        """Re-read the service directory (after adding an activation file)."""
        subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ReloadConfig",
            ],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=10,
        )

    def stop(self) -> None:
        terminate(self._proc)
        self._proc = None

    def __enter__(self) -> PrivateBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
