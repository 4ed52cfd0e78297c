"""Secrets around the daemon process: it is not dumpable and leaves no core (item 13).

A core dump of a daemon that served tokens holds copies of them; a same-uid process
reading ``/proc/PID/mem`` could take them live. The daemon turns both off at start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge.testing.broker_rig import BrokerRig

pytestmark = pytest.mark.hostile


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokerRig]:
    with BrokerRig(tmp_path / "rig") as own:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", own.bus.address)
        yield own


def _core_limit(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit line")


def test_running_daemon_writes_no_core_and_hides_its_memory(rig: BrokerRig) -> None:
    rig.add_api_key("openai", "work", "sk-" + "q" * 40)
    done = rig.cli("get-token", "openai", "work")
    assert done.returncode == 0, done.stderr
    pid = rig.owner_pid()
    assert pid is not None
    assert _core_limit(pid) == ("0", "0")
    if os.geteuid() != 0:
        # Root keeps CAP_SYS_PTRACE and reads it anyway; a same-uid user process must not.
        with pytest.raises(PermissionError):
            Path(f"/proc/{pid}/mem").open("rb").close()


def test_hardening_clears_the_dumpable_flag() -> None:
    # PR_GET_DUMPABLE answers only for the calling process: ask it in a fresh one.
    code = (
        "import ctypes, resource\n"
        "from sigilforge.hardening import harden_process\n"
        "harden_process()\n"
        "libc = ctypes.CDLL(None)\n"
        "print(libc.prctl(3, 0, 0, 0, 0), resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["0", "(0, 0)\n"]
