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
    def __init__(self, env: dict[str, str], out: Path, *, timeout: float = 10) -> None:
        self.out = out
        self._env = env
        self._fh = out.open("w")
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["dbus-monitor", "--session", *RULES],
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Signals sent before the monitor is in place are lost: probe until one shows.
            subprocess.run(
                ["dbus-send", "--session", "--type=signal", "/probe", f"{INTERFACE}.Probe"],
                env=self._env,
                timeout=5,
                check=False,
            )
            if "member=Probe" in self.text():
                return
            time.sleep(0.05)
        raise RuntimeError("dbus-monitor did not start")

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
            time.sleep(0.2)  # let the last signals arrive
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
