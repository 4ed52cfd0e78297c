"""Only allowlisted vals backends reach ``vals``: a stand-in ``vals`` on PATH records
every start, through ``sigilforge resolve`` and ``sigilforge inject`` as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sigilforge.testing.client_env import sigilforge_env
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER

REFUSED = [
    "ref+exec://sh?args=-c,id",
    "ref+file:///etc/passwd",
    "ref+envsubst://$HOME",
    "ref+sops://secrets.yaml#/key",
    "ref+tfstate://terraform.tfstate/output.x",
    "vals:ref+file://./secret.txt",
]


@pytest.fixture
def vals_env(home: Home, tmp_path: Path) -> tuple[dict[str, str], Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    started = tmp_path / "vals-started"
    stand_in = bindir / "vals"
    # Records its argv, prints a value with vals' own (secret-bearing) noise on stderr.
    stand_in.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {started}\n'
        f'echo "vals says {MARKER}" >&2\nprintf "value-of-%s\\n" "$2"\n'
    )
    stand_in.chmod(0o755)
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "config.toml").write_text("enable_vals = true\n")
    env = sigilforge_env(home.env, client_path=f"{bindir}:/usr/bin:/bin")
    return env, started


def _resolve(env: dict[str, str], ref: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sigilforge", "resolve", ref],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("ref", REFUSED)
def test_a_refused_backend_never_starts_vals(
    vals_env: tuple[dict[str, str], Path], ref: str
) -> None:
    env, started = vals_env
    done = _resolve(env, ref)
    assert done.returncode == 2
    assert "not allowed" in done.stderr
    assert not started.exists()


def test_an_inject_with_a_refused_backend_writes_nothing(
    vals_env: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = vals_env
    template = tmp_path / "t"
    template.write_text("a={{ ref+vault://secret/a }}\nb={{ ref+exec://sh }}\n")
    done = subprocess.run(
        ["sigilforge", "inject", "-i", str(template)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""


def test_an_allowed_backend_runs_vals_without_echoing_it(
    vals_env: tuple[dict[str, str], Path],
) -> None:
    env, started = vals_env
    done = _resolve(env, "ref+vault://secret/data/app#/token")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "value-of-ref+vault://secret/data/app#/token\n"
    assert started.read_text() == "get ref+vault://secret/data/app#/token\n"
    assert MARKER not in done.stderr


def test_the_user_can_allow_a_local_backend(
    vals_env: tuple[dict[str, str], Path], home: Home
) -> None:
    env, started = vals_env
    (home.config_dir / "config.toml").write_text('enable_vals = true\nvals_backends = ["file"]\n')
    assert _resolve(env, "ref+file://./x").returncode == 0
    assert _resolve(env, "ref+exec://sh").returncode == 2
    assert started.read_text() == "get ref+file://./x\n"


@pytest.mark.parametrize("ref", ["vals:-h", "ref+vault", "ref+-x://y", "vals:--help"])
def test_what_could_be_read_as_an_option_never_starts_vals(
    vals_env: tuple[dict[str, str], Path], ref: str
) -> None:
    env, started = vals_env
    assert _resolve(env, ref).returncode == 2
    assert not started.exists()
