"""A headless gnome-keyring providing the Secret Service on a (private) bus."""

from __future__ import annotations

import shutil
import subprocess
import time

from sigilforge.store.base import SCHEMA
from sigilforge.testing.process import terminate

PASSWORD = "sigilforge-test-password"


def clear_items(env: dict[str, str]) -> None:
    """Delete every Sigilforge item from the keyring on ``env``'s bus, as ``secret-tool``
    (a client we did not write) finds them: a test's home leaves an empty collection."""
    subprocess.run(
        ["secret-tool", "clear", "xdg:schema", SCHEMA],
        env=env,
        capture_output=True,
        timeout=10,
        check=False,
    )


class HeadlessKeyring:
    """``with HeadlessKeyring(env) as kr:`` on the bus named by ``env``.

    The login keyring is created (or unlocked) with ``PASSWORD`` read from stdin, the
    way PAM does it at login, so no prompt is ever needed.
    """

    def __init__(self, env: dict[str, str], password: str = PASSWORD) -> None:
        self.env = env
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0, *, replace: bool = False) -> HeadlessKeyring:
        """Start it; with ``replace``, as ``gnome-keyring-daemon --replace`` does under a
        running one (which hands over the bus name and leaves)."""
        if shutil.which("gnome-keyring-daemon") is None:
            raise RuntimeError("gnome-keyring is not installed (apt-get install gnome-keyring)")
        old = self._proc if replace else None
        self._proc = subprocess.Popen(
            [
                "gnome-keyring-daemon",
                *(["--replace"] if replace else []),
                "--foreground",
                "--unlock",
                "--components=secrets",
            ],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self._proc.stdin is not None
        self._proc.stdin.write(self.password.encode())
        self._proc.stdin.close()
        if old is not None:
            try:
                old.wait(timeout)
            except subprocess.TimeoutExpired:
                terminate(old)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError("gnome-keyring-daemon exited at start")
            probe = subprocess.run(
                [
                    "busctl",
                    "--user",
                    # Before our daemon owns the name, a probe must not start another.
                    "--auto-start=no",
                    "get-property",
                    "org.freedesktop.secrets",
                    "/org/freedesktop/secrets/aliases/default",
                    "org.freedesktop.Secret.Collection",
                    "Locked",
                ],
                env=self.env,
                capture_output=True,
                timeout=5,
                check=False,
            )
            if probe.returncode == 0 and b"false" in probe.stdout:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("gnome-keyring did not unlock its login collection in time")

    def lock(self) -> None:
        """Lock every collection, as a screen locker or `Lock` from Seahorse would."""
        subprocess.run(
            [
                "busctl",
                "--user",
                "call",
                "org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service",
                "Lock",
                "ao",
                "1",
                "/org/freedesktop/secrets/collection/login",
            ],
            env=self.env,
            capture_output=True,
            timeout=5,
            check=True,
        )

    def unlock(self) -> None:
        """Unlock the login collection with its password, as logging back in does
        (gnome-keyring's internal interface; a plain session carries the password)."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        path = "/org/freedesktop/secrets"
        conn = open_dbus_connection(bus=self.env["DBUS_SESSION_BUS_ADDRESS"])
        try:
            service = DBusAddress(path, "org.freedesktop.secrets", "org.freedesktop.Secret.Service")
            opened = conn.send_and_get_reply(
                new_method_call(service, "OpenSession", "sv", ("plain", ("s", ""))), timeout=5
            )
            session = opened.body[1]
            internal = DBusAddress(
                path,
                "org.freedesktop.secrets",
                "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
            )
            master = (session, b"", self.password.encode(), "text/plain")
            reply = conn.send_and_get_reply(
                new_method_call(
                    internal,
                    "UnlockWithMasterPassword",
                    "o(oayays)",
                    (f"{path}/collection/login", master),
                ),
                timeout=5,
            )
            if reply.header.message_type.name == "error":
                raise RuntimeError(f"gnome-keyring refused to unlock: {reply.body}")
        finally:
            conn.close()

    def stop(self) -> None:
        terminate(self._proc)
        self._proc = None

    def __enter__(self) -> HeadlessKeyring:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
