"""``sigilforge exec`` and ``sigilforge inject`` as a script runs them: real processes,
real signals, real files; the secret in no process's command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sigilforge.testing.client_env import sigilforge_env
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER

KEY = f"sk-{MARKER}"

# The child writes what it got to a file, says it is ready, and waits for a signal.
CHILD = """
import os, signal, sys, time
out = sys.argv[1]
def on_term(*_):
    open(out + ".term", "w").close()
    sys.exit(42)
if sys.argv[2] == "handle":
    signal.signal(signal.SIGTERM, on_term)
fd = os.open(out + ".tmp", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, (os.environ.get("API_KEY", "") + "\\n" + os.environ.get("PLAIN", "")).encode())
os.close(fd)
os.rename(out + ".tmp", out)
time.sleep(60)
"""


@pytest.fixture
def env(home: Home) -> dict[str, str]:
    environment = sigilforge_env(home.env, client_path="/usr/bin:/bin")
    done = subprocess.run(
        ["sigilforge", "add-account", "openai", "work", "--api-key-stdin"],
        input=KEY + "\n",
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return environment


def _run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sigilforge", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _cmdlines_with(secret: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if secret.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue  # gone, or not ours to read
    return found


def test_exec_passes_the_exit_status_through(env: dict[str, str]) -> None:
    done = _run(env, "exec", "--env", "API_KEY=auth://openai/work", "--", "sh", "-c", "exit 7")
    assert done.returncode == 7, done.stderr


@pytest.mark.parametrize("handler", ["handle", "default"])
def test_sigterm_to_exec_reaches_the_child_and_no_cmdline_holds_the_secret(
    env: dict[str, str], tmp_path: Path, handler: str
) -> None:
    out = tmp_path / "child"
    proc = subprocess.Popen(
        [
            "sigilforge",
            "exec",
            "--env",
            "API_KEY=auth://openai/work",
            "--env",
            "PLAIN=just text",
            "--",
            sys.executable,
            "-c",
            CHILD,
            str(out),
            handler,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(out)
        assert out.read_text() == f"{KEY}\njust text"
        assert _cmdlines_with(KEY) == []
        assert KEY not in os.environ.values()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    if handler == "handle":
        assert code == 42
        assert (tmp_path / "child.term").exists()
    else:
        assert code == -signal.SIGTERM


def test_exec_reads_an_env_file_of_references(env: dict[str, str], tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# for the app\nexport API_KEY=auth://openai/work\nPLAIN='quoted text'\n\n")
    out = tmp_path / "child"
    done = _run(
        env,
        "exec",
        "--env-file",
        str(dotenv),
        "--",
        sys.executable,
        "-c",
        CHILD.replace("time.sleep(60)", ""),
        str(out),
        "default",
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == f"{KEY}\nquoted text"


def test_exec_resolves_references_it_inherits_and_lets_options_override_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "child"
    script = CHILD.replace("time.sleep(60)", "")
    inherited = {**env, "API_KEY": "auth://openai/work", "PLAIN": "auth://openai/nobody"}
    # PLAIN's inherited reference names no account; --env replaces it before it is read.
    done = _run(
        inherited,
        *("exec", "--env", "PLAIN=given", "--", sys.executable, "-c", script),
        *(str(out), "default"),
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == f"{KEY}\ngiven"


def test_exec_with_an_unresolvable_reference_runs_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    done = _run(env, "exec", "--env", "API_KEY=auth://openai/nobody", "--", "touch", str(ran))
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert not ran.exists()


def test_inject_fills_placeholders_into_a_private_file(env: dict[str, str], tmp_path: Path) -> None:
    template = tmp_path / "config.tpl"
    template.write_text(
        "key = {{ auth://openai/work }}\nagain = {{auth://openai/work/api_key}}\n"
        "user = {{ auth://openai/work/username }}\njinja = {{ name }}\n"
    )
    out = tmp_path / "config.ini"
    done = _run(env, "inject", "-i", str(template), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text() == f"key = {KEY}\nagain = {KEY}\nuser = work\njinja = {{{{ name }}}}\n"
    assert out.stat().st_mode & 0o777 == 0o600
    assert KEY not in done.stdout + done.stderr
    to_stdout = _run(env, "inject", "-i", "-", stdin="k={{ auth://openai/work }}\n")
    assert to_stdout.stdout == f"k={KEY}\n"


def test_inject_with_one_bad_placeholder_writes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    template = work / "config.tpl"
    template.write_text(
        "a = {{ auth://openai/work }}\nb = {{ auth://openai/work/refresh_token }}\n"
    )
    out = work / "config.ini"
    done = _run(env, "inject", "-i", str(template), "-o", str(out))
    assert done.returncode == 2
    assert not out.exists()
    out.write_text("old\n")
    assert _run(env, "inject", "-i", str(template), "-o", str(out)).returncode == 2
    assert out.read_text() == "old\n"
    # no temp file left behind either
    assert {p.name for p in work.iterdir()} == {"config.tpl", "config.ini"}
