"""The README's "try it" works on a machine with no desktop session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_make_demo_shows_activation_token_oauth_refresh_and_signals() -> None:
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
    # The OAuth account: added through the daemon, its token renewed by the daemon alone.
    assert "added corp/alice (oauth2)" in done.stdout
    assert 'AccountAdded(string "corp", string "alice")' in done.stdout
    assert 'TokenRefreshed(string "corp", string "alice", int64 ' in done.stdout
    assert "member=TokenRefreshed" in done.stdout  # dbus-monitor's own lines, shown
    assert "(a new token, valid until" in done.stdout
    assert "Probe" not in done.stdout
    # Piped, as here: plain text, and the commands shown as a user would type them.
    assert "\x1b" not in done.stdout
    assert "$ dbus-monitor --session \"type='signal',interface='org.sigilforge.Broker1'\"" in (
        done.stdout
    )
    assert '"sx" is a string, the key' in done.stdout


def test_make_demo_needs_only_what_it_uses() -> None:
    plan = subprocess.run(
        ["make", "-n", "-B", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert plan.returncode == 0, plan.stderr
    assert "demo.try_it" in plan.stdout
    for unused in ("nodejs", "meson", "dovecot", "[test]", "pytest"):
        assert unused not in plan.stdout, unused
