"""WatchedVersion on its own: the file's version is read again exactly when something
changed it (here, always another process), and only then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sigilforge import _filewatch as filewatch
from sigilforge._filewatch import WatchedVersion


class Counted:
    """The stat version ``AccountStore.version`` gives, counting the reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0

    def __call__(self) -> tuple[int, int, int]:
        self.reads += 1
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)


def _elsewhere(code: str) -> None:
    """Run ``code`` in another process, to its end."""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "accounts.json"
    path.parent.mkdir()
    path.write_text("{}")
    return path


def test_nothing_changed_means_no_read_and_the_same_version(target: Path) -> None:
    read = Counted(target)
    watched = WatchedVersion(target, read)
    first = watched()
    for _ in range(100):
        assert watched() == first
    assert read.reads == 1


def test_a_replacement_by_another_process_is_seen_at_the_next_call(target: Path) -> None:
    read = Counted(target)
    watched = WatchedVersion(target, read)
    before = watched()
    _elsewhere(
        f"import os; open({str(target) + '.tmp'!r}, 'w').write('{{\"a\": 1}}');"
        f" os.replace({str(target) + '.tmp'!r}, {str(target)!r})"
    )
    after = watched()
    assert after != before
    assert after == read()


def test_a_write_through_a_hard_link_elsewhere_is_seen(target: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-name"
    os.link(target, other)
    watched = WatchedVersion(target, Counted(target))
    before = watched()
    _elsewhere(f"open({str(other)!r}, 'a').write('more')")
    assert watched() != before


def test_a_directory_removed_and_made_again_is_followed(target: Path) -> None:
    read = Counted(target)
    watched = WatchedVersion(target, read)
    watched()
    _elsewhere(f"import shutil; shutil.rmtree({str(target.parent)!r})")
    assert watched() == (0, 0, 0)
    _elsewhere(
        f"import os; os.mkdir({str(target.parent)!r}); open({str(target)!r}, 'w').write('{{}}')"
    )
    made = watched()
    assert made == read() != (0, 0, 0)
    _elsewhere(f"open({str(target)!r}, 'a').write(' ')")
    assert watched() != made


def test_without_inotify_every_call_reads(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filewatch._Inotify, "open", classmethod(lambda cls: None))
    read = Counted(target)
    watched = WatchedVersion(target, read)
    before = watched()
    target.write_text('{"changed": true}')
    assert watched() != before
    assert read.reads == 2


def test_a_peek_costs_no_read_and_holds_while_nothing_changed(target: Path) -> None:
    read = Counted(target)
    watched = WatchedVersion(target, read)
    first = watched()
    version, epoch = watched.peek()
    for _ in range(100):
        assert watched.peek() == (version, epoch)
    assert version == first
    assert watched.unchanged_since(epoch)
    assert read.reads == 1


def test_a_change_after_a_peek_fails_its_check_and_the_next_peek_sees_it(target: Path) -> None:
    watched = WatchedVersion(target, Counted(target))
    before, epoch = watched.peek()
    _elsewhere(f"open({str(target)!r}, 'a').write(' ')")
    # What was answered from ``before`` must not go out: the change came first.
    assert not watched.unchanged_since(epoch)
    after, later = watched.peek()
    assert after != before
    assert later != epoch
    assert watched.unchanged_since(later)


def test_a_change_seen_by_another_caller_still_fails_an_older_check(target: Path) -> None:
    # A thread's call drains the kernel's queue; the event loop's peek from before it
    # must not pass for current.
    watched = WatchedVersion(target, Counted(target))
    _, epoch = watched.peek()
    _elsewhere(f"open({str(target)!r}, 'a').write(' ')")
    watched()
    assert not watched.unchanged_since(epoch)


def test_without_inotify_every_peek_reads(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filewatch._Inotify, "open", classmethod(lambda cls: None))
    read = Counted(target)
    watched = WatchedVersion(target, read)
    before, epoch = watched.peek()
    target.write_text('{"changed": true}')
    after, later = watched.peek()
    assert after != before
    assert read.reads == 2
    assert not watched.unchanged_since(epoch)
    assert watched.unchanged_since(later)
