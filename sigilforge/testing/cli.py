"""The ``sigilforge`` command, run the way a user runs it.

``run_cli_in(env, *args)`` runs it to the end (``RunCli`` is the type of a function
bound to one environment, as the ``run_cli`` fixture gives). ``CliFlow`` is a running
command whose stderr is read line by line as it comes, so a test (or the demo) can act
on a prompt -- follow the URL, enter the code -- while the command waits for the sign-in
to finish. Every wait has a time limit, and the process is killed after 60 s whatever
happens."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from collections.abc import Callable

__all__ = ["CliFlow", "RunCli", "on_a_terminal", "run_cli_in"]

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


def run_cli_in(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sigilforge", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def on_a_terminal(env: dict[str, str], *args: str) -> str:
    """What the command writes to stdout when that is a terminal (a pty)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sigilforge", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=subprocess.PIPE,
    )
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        out += chunk
    proc.wait(60)
    os.close(main)
    return out.decode()


class CliFlow:
    """A running ``sigilforge`` whose stderr is read line by line as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sigilforge", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._killer = threading.Timer(60, self.proc.kill)
        self._killer.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def line_after(self, text: str, timeout: float = 20) -> str:
        """The line that follows the first line containing ``text``."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: any(text in ln for ln in self.lines[:-1]), timeout=timeout
            )
            assert ok, f"no {text!r} in {self.lines}"
            index = next(i for i, ln in enumerate(self.lines) if text in ln)
            return self.lines[index + 1]

    def wait_line(self, text: str, timeout: float = 20) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(text in ln for ln in self.lines), timeout=timeout)
            assert ok, f"no {text!r} in {self.lines}"

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self._killer.cancel()
        self._reader.join(5)
        return code, out, "\n".join(self.lines)
