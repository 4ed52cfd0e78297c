"""config.toml: read, checked, never rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigilforge.config import Config
from sigilforge.errors import InvalidArgument


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert Config.load(tmp_path / "config.toml") == Config()


def test_values_are_read_and_the_file_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = '# mine\nstore = "keyring"\nidle_timeout_secs = 30\nenable_vals = true\n'
    path.write_text(text)
    config = Config.load(path)
    assert (config.store, config.idle_timeout_secs, config.enable_vals) == ("keyring", 30.0, True)
    assert path.read_text() == text


def test_unknown_keys_are_ignored_for_newer_versions(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("some_future_key = 1\n")
    assert Config.load(path) == Config()


@pytest.mark.parametrize(
    "text",
    [
        'idle_timeout_secs = "soon"\n',
        "enable_vals = 1\n",
        'store = "plaintext"\n',
        "cache_ttl_secs = -1\n",
        "store = \n",
        b"\xff\xfe".decode("latin-1"),
    ],
)
def test_bad_config_is_a_clear_invalid_argument(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(InvalidArgument, match=r"config"):
        Config.load(path)
