"""A separate ``dbus-monitor`` process watching the broker's signals.

A client nobody here wrote, on a connection of its own: what it prints is what any
process on the bus could see. Used by the D-Bus tests and the demo::

    monitor = Monitor(env, out_file)          # returns once it is listening
    ...
    monitor.wait_for("member=TokenRefreshed", timeout=10)
    text = monitor.stop()
    monitor.signals()                         # ["AccountAdded(string "corp", ...)", ...]
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sigilforge.dbus.names import INTERFACE, REQUEST_INTERFACE
from sigilforge.testing.process import terminate

RULES = (
    f"type='signal',interface='{INTERFACE}'",
    f"type='signal',interface='{REQUEST_INTERFACE}'",
)


class Monitor:
    def __init__(
        self,
        env: dict[str, str],
        out: Path,
        *,
        timeout: float = 10,
        also: tuple[str, ...] = (),
    ) -> None:
        """``also``: more match rules (e.g. method calls to watch for)."""
        self.out = out
        self._env = env
        self._fh = out.open("w")
        self._probes = 0
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["dbus-monitor", "--session", *RULES, *also],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_listening(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout: float) -> None:
        # Signals sent before the monitor is in place are lost: probe until one shows.
        if not self._probe(timeout):
            raise RuntimeError("dbus-monitor did not start")

    def _probe(self, timeout: float) -> bool:
        """Send a probe signal of its own until the monitor prints it; False after
        ``timeout``. The bus routes messages in order, so once it shows, whatever the bus
        routed before it (a signal sent before a reply the caller has seen) is printed."""
        self._probes += 1
        path = f"/probe/{self._probes}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            subprocess.run(
                ["dbus-send", "--session", "--type=signal", path, f"{INTERFACE}.Probe"],
                env=self._env,
                timeout=5,
                check=False,
            )
            if f"path={path};" in self.text():
                return True
            time.sleep(0.05)
        return False

    def text(self) -> str:
        return self.out.read_text()

    def wait_for(self, needle: str, timeout: float) -> bool:
        """True once ``needle`` is in what the monitor printed; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            time.sleep(0.05)
        return needle in self.text()

    def stop(self) -> str:
        if self._proc is not None:
            # Not a fixed sleep: a loaded machine delivers the last signals later.
            if self._proc.poll() is None:
                self._probe(timeout=10)
            terminate(self._proc)
            self._proc = None
            self._fh.close()
        return self.text()

    def signals(self) -> list[str]:
        """The broker's signals seen so far, one ``Member(arg, ...)`` line each."""
        return [f"{member}({', '.join(a.strip() for a in args)})" for member, args in self._parse()]

    def raw(self, member: str) -> list[str]:
        """The lines dbus-monitor printed for the first ``member`` signal (empty if none)."""
        lines = self.text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("signal") and line.endswith(
                f"interface={INTERFACE}; member={member}"
            ):
                return [line, *_args(lines[i + 1 :])]
        return []

    def _parse(self) -> list[tuple[str, list[str]]]:
        lines = self.text().splitlines()
        return [
            (line.rsplit("member=", 1)[-1], _args(lines[i + 1 :]))
            for i, line in enumerate(lines)
            if line.startswith("signal")
            and f"interface={INTERFACE};" in line
            and not line.endswith("member=Probe")
        ]


def _args(following: list[str]) -> list[str]:
    args = []
    for line in following:
        if not line.startswith("   "):
            break
        args.append(line)
    return args
