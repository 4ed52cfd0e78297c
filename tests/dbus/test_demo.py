"""The README's "try it" works on a machine with no desktop session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_make_demo_shows_activation_token_and_signals() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "demo.try_it"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'sx "sk-demo-0123456789abcdef" 0' in done.stdout
    assert 'AccountAdded(string "openai", string "work")' in done.stdout
    assert 'AccountRemoved(string "openai", string "work")' in done.stdout
