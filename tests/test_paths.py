"""Where the files live: the XDG variables when they hold absolute paths, else the
spec's defaults under the home directory (a relative value is ignored, as the spec says)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigilforge import paths


def test_xdg_variables_choose_the_directories(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "r"))
    assert paths.accounts_file() == tmp_path / "c" / "sigilforge" / "accounts.json"
    assert paths.log_file() == tmp_path / "s" / "sigilforge" / "sigilforge.log"
    assert paths.runtime_dir() == tmp_path / "r" / "sigilforge"


@pytest.mark.parametrize("value", [None, "", "relative/dir"])
def test_unset_empty_or_relative_variables_fall_back_to_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert paths.config_dir() == tmp_path / ".config" / "sigilforge"
    assert paths.state_dir() == tmp_path / ".local" / "state" / "sigilforge"
    # No runtime dir: never /tmp, where another user could pre-create our lock files.
    assert paths.runtime_dir() == tmp_path / ".local" / "state" / "sigilforge" / "run"
