"""A private session with the broker activatable on it: bus, keyring, activation file.

``with BrokerRig(root) as rig:`` gives an isolated home, a private ``dbus-daemon`` whose
service directory holds an activation file for the installed ``sigilforge-daemon``, and
a headless gnome-keyring. Nothing is started for the broker itself: the first call does
that, as on a desktop. The daemon's stderr is appended to ``rig.log_file``. Used by the
D-Bus tests, ``bench/`` and ``demo/``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sigilforge.dbus.names import BUS_NAME, INTERFACE, OBJECT_PATH
from sigilforge.testing.bus import PrivateBus
from sigilforge.testing.env import isolated_env
from sigilforge.testing.home import Home
from sigilforge.testing.keyring import HeadlessKeyring

__all__ = ["BUS_NAME", "INTERFACE", "OBJECT_PATH", "BrokerRig", "cli_command", "daemon_command"]


def daemon_command() -> list[str]:
    """The installed ``sigilforge-daemon`` beside this interpreter (pip/venv layout)."""
    script = Path(sys.executable).parent / "sigilforge-daemon"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from sigilforge.daemon import main; main()"]


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "sigilforge"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "sigilforge"]


class BrokerRig:
    def __init__(
        self,
        root: Path,
        *,
        daemon_args: tuple[str, ...] = ("-v",),
        keyring: bool = True,
        activation: bool = True,
        standard_dirs: bool = False,
    ) -> None:
        self.root = root
        self.env = isolated_env(root)
        self.bus = PrivateBus(root, self.env, standard_dirs=standard_dirs)
        self.keyring = HeadlessKeyring(self.env) if keyring else None
        self.log_file = root / "daemon.log"
        self._daemon_args = daemon_args
        self._activation = activation

    @property
    def home(self) -> Home:
        """The rig's home, as the sign-in helpers take it (its config dir is the daemon's)."""
        return Home(self.root, self.env)

    @property
    def config_dir(self) -> Path:
        return self.home.config_dir

    def start(self) -> BrokerRig:
        self.bus.start()
        try:
            if self.keyring is not None:
                self.keyring.start()
            if self._activation:
                self.install_activation_file()
        except BaseException:
            self.stop()
            raise
        return self

    def install_activation_file(
        self, name: str = BUS_NAME, command: list[str] | None = None
    ) -> None:
        """An activation file like the shipped one, but with stderr kept in a file."""
        argv = " ".join(command or [*daemon_command(), *self._daemon_args])
        exec_line = f"/bin/sh -c 'exec {argv} 2>>{self.log_file}'"
        (self.bus.services / f"{name}.service").write_text(
            f"[D-BUS Service]\nName={name}\nExec={exec_line}\n"
        )
        self.bus.reload()

    def write_config(self, text: str) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "config.toml").write_text(text)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text()
        except FileNotFoundError:
            return ""

    # -- talking to it --------------------------------------------------------------------

    def run(
        self, *argv: str, stdin: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def busctl_call(
        self, member: str, signature: str = "", *args: str
    ) -> subprocess.CompletedProcess[str]:
        argv = ["busctl", "--user", "call", BUS_NAME, OBJECT_PATH, INTERFACE, member]
        if signature:
            argv += [signature, *args]
        return self.run(*argv)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(*cli_command(), *args, stdin=stdin)

    def add_api_key(self, service: str, account: str, key: str) -> None:
        """Adds an account without the daemon (in-process), as a prior session would."""
        done = self.cli(
            "--no-daemon", "add-account", service, account, "--api-key-stdin", stdin=key + "\n"
        )
        if done.returncode != 0:
            raise RuntimeError(f"add-account failed: {done.stderr}")

    def owner_pid(self, name: str = BUS_NAME) -> int | None:
        done = self.run(
            "busctl",
            "--user",
            "call",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "GetConnectionUnixProcessID",
            "s",
            name,
        )
        if done.returncode != 0:
            return None
        return int(done.stdout.split()[1])

    def wait_gone(self, name: str = BUS_NAME, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.owner_pid(name) is None:
                return True
            time.sleep(0.05)
        return False

    def stop_daemon(self, name: str = BUS_NAME, timeout: float = 10.0) -> None:
        pid = self.owner_pid(name)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if not self.wait_gone(name, timeout):
            raise RuntimeError(f"{name} did not go away after SIGTERM")

    def stop(self) -> None:
        # If it will not stop, the bus going away below ends it anyway.
        with contextlib.suppress(Exception):
            self.stop_daemon()
        if self.keyring is not None:
            self.keyring.stop()
        self.bus.stop()

    def __enter__(self) -> BrokerRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
