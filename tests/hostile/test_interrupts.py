"""Signals and kills aimed exactly between the server's rotation and the save.

The fault-injection point (``SIGILFORGE_FAULT_PAUSE=after-rotate``) holds a refreshing
process there; the test signals it and lets it go. SIGTERM, SIGINT and SIGHUP wait for the save
(0 refresh tokens lost); a SIGKILL cannot be deferred, so the in-flight marker makes the
next call report it (``ReauthRequired``: a refresh was interrupted), never silently. The
daemon refreshes in a child process: a SIGKILL of the daemon loses nothing, and one of the
child (the process holding the token) is reported."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge import paths
from sigilforge.accounts import AccountStore
from sigilforge.broker import Broker
from sigilforge.config import Config
from sigilforge.errors import Timeout
from sigilforge.events import EventHub
from sigilforge.isolated_refresh import ChildRefresh
from sigilforge.store import open_store
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.broker_rig import BrokerRig, cli_command
from sigilforge.testing.cli import RunCli
from sigilforge.testing.home import Home
from sigilforge.testing.hostile_report import Recorder, count
from sigilforge.testing.signin import sign_in, write_provider
from sigilforge.tokens import TokenManager, read_token_set
from tests.hostile.test_rotation import sign_in as sign_in_cli
from tests.hostile.test_rotation import stored_refresh_token


def wait_for(path: Path, proc: subprocess.Popen[str] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        if proc is not None:
            assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)


def paused_refresh(env: dict[str, str], ready: Path, *args: str) -> subprocess.Popen[str]:
    env = {**env, "SIGILFORGE_FAULT_PAUSE": "after-rotate", "SIGILFORGE_FAULT_READY": str(ready)}
    return subprocess.Popen(
        [*cli_command(), *args, "refresh-token", "corp", "alice"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def signed_in(home: Home, auth_server: AuthServer) -> AuthServer:
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
    return auth_server


def alive(server: AuthServer) -> bool:
    """Whether the refresh token in the user's store is still good at the server."""
    store = open_store(Config.load(paths.config_file()).store)
    try:
        tokens = read_token_set(store, "corp", "alice")
    finally:
        store.close()
    return (
        tokens is not None
        and tokens.refresh_token is not None
        and server.introspect(tokens.refresh_token)
    )


@pytest.mark.parametrize(
    ("sig", "usual_exit"), [(signal.SIGTERM, -15), (signal.SIGINT, 130), (signal.SIGHUP, -1)]
)
def test_aimed_signals_wait_for_the_save(
    sig: signal.Signals,
    usual_exit: int,
    home: Home,
    signed_in: AuthServer,
    run_cli: RunCli,
    hostile_record: Recorder,
    tmp_path: Path,
) -> None:
    rounds = count(3, 100)
    kept = 0
    ready = tmp_path / "ready"
    for _ in range(rounds):
        before = signed_in.token_requests("refresh_token")
        proc = paused_refresh(home.env, ready, "--no-daemon")
        wait_for(ready, proc)
        assert signed_in.token_requests("refresh_token") == before + 1  # the server rotated
        proc.send_signal(sig)
        ready.unlink()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == usual_exit, err
        if alive(signed_in):
            kept += 1
        got = run_cli("--no-daemon", "get-token", "corp", "alice")
        assert got.returncode == 0, got.stderr
    hostile_record(
        "interrupts",
        f"aimed {sig.name} after rotation, in-process",
        rounds,
        kept,
        f"{rounds - kept} lost",
    )
    assert kept == rounds


def test_an_aimed_sigkill_in_process_is_reported_at_the_next_call(
    home: Home, signed_in: AuthServer, run_cli: RunCli, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    proc = paused_refresh(home.env, ready, "--no-daemon")
    wait_for(ready, proc)
    proc.kill()
    proc.communicate(timeout=10)
    ready.unlink()
    got = run_cli("--no-daemon", "get-token", "corp", "alice")
    assert got.returncode == 5, got.stderr
    assert "a refresh was interrupted" in got.stderr


def test_a_refresh_process_past_its_time_limit_is_stopped_and_still_saves(
    home: Home, signed_in: AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough for the child to reach the fault point on a loaded machine; the limit
    # then passes while it holds the rotated token there, and SIGTERM must wait.
    ready = tmp_path / "ready"
    monkeypatch.setenv("SIGILFORGE_FAULT_PAUSE", "after-rotate")
    monkeypatch.setenv("SIGILFORGE_FAULT_READY", str(ready))
    store = open_store(Config.load(paths.config_file()).store)
    manager = TokenManager(
        AccountStore(paths.accounts_file()), store, events=EventHub(), isolated=ChildRefresh(8.0)
    )
    outcome: list[BaseException] = []

    def refresh() -> None:
        try:
            manager.force_refresh("corp", "alice")
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=refresh)
    caller.start()
    wait_for(ready)
    child = paused_child(ready)
    caller.join(30)
    assert not caller.is_alive()
    (error,) = outcome
    assert isinstance(error, Timeout), error
    assert "did not finish in 8 s" in str(error)
    assert Path(f"/proc/{child}").exists()  # it got SIGTERM and holds it until saved
    ready.unlink()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child}").exists():
        assert time.monotonic() < deadline, "the refresh process never finished"
        time.sleep(0.02)
    store.close()
    assert alive(signed_in), "the rotated refresh token was not saved"
    assert signed_in.token_requests("refresh_token") == 1


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[BrokerRig]:
    mine = BrokerRig(tmp_path / "rig")
    # The daemon inherits the bus's environment: its refreshes pause too.
    mine.env["SIGILFORGE_FAULT_PAUSE"] = "after-rotate"
    mine.env["SIGILFORGE_FAULT_READY"] = str(tmp_path / "daemon-ready")
    with mine:
        yield mine


def paused_child(ready: Path) -> int:
    """The pid of the refresh process the fault point holds (it wrote its pid there)."""
    return int(ready.read_text().split()[1])


def ask_for_refresh(rig: BrokerRig) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*cli_command(), "refresh-token", "corp", "alice"],
        env=rig.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_aimed_sigkills_of_the_daemon_lose_nothing(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder, tmp_path: Path
) -> None:
    write_provider(rig.home, auth_server)
    sign_in_cli(rig)
    rounds = count(1, 10)
    kept = 0
    ready = tmp_path / "daemon-ready"
    for _ in range(rounds):
        assert rig.cli("get-token", "corp", "alice").returncode == 0  # the daemon is up
        before = auth_server.token_requests("refresh_token")
        asker = ask_for_refresh(rig)
        wait_for(ready, asker)
        # The server has rotated; the new token set is not saved yet.
        assert auth_server.token_requests("refresh_token") == before + 1
        pid = rig.owner_pid()
        assert pid is not None
        assert paused_child(ready) != pid  # the daemon does not hold the new token itself
        os.kill(pid, signal.SIGKILL)
        asker.communicate(timeout=30)
        assert rig.wait_gone()
        ready.unlink()
        # The next call (a new daemon) gets the token the orphaned refresh saved.
        got = rig.cli("get-token", "corp", "alice")
        assert got.returncode == 0, got.stderr + rig.log_text()
        assert auth_server.introspect(got.stdout.strip())
        final = stored_refresh_token(rig)
        assert final is not None
        if auth_server.introspect(final):
            kept += 1
    hostile_record(
        "interrupts",
        "aimed SIGKILL of the daemon after rotation",
        rounds,
        kept,
        f"{rounds - kept} lost (the refresh runs in a child process)",
    )
    assert kept == rounds


def test_an_aimed_sigkill_of_the_refresh_process_is_reported_at_the_next_call(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder, tmp_path: Path
) -> None:
    write_provider(rig.home, auth_server)
    rounds = count(1, 10)
    reported = 0
    ready = tmp_path / "daemon-ready"
    for _ in range(rounds):
        sign_in_cli(rig)
        assert rig.cli("get-token", "corp", "alice").returncode == 0  # the daemon is up
        asker = ask_for_refresh(rig)
        wait_for(ready, asker)
        # The process holding the only copy of the rotated refresh token dies.
        child = paused_child(ready)
        os.kill(child, signal.SIGKILL)
        _, err = asker.communicate(timeout=30)
        ready.unlink()
        assert asker.returncode == 1, err
        assert "ended without an answer" in err
        assert "Traceback" not in err + rig.log_text()
        # Answered only once the daemon had reaped it: no zombie left behind.
        assert not Path(f"/proc/{child}").exists()
        got = rig.cli("get-token", "corp", "alice")
        assert got.returncode == 5, got.stderr
        assert "a refresh was interrupted" in got.stderr
        assert stored_refresh_token(rig) is not None  # tokens kept for the record
        reported += 1
        assert rig.cli("remove-account", "corp", "alice").returncode == 0
    hostile_record(
        "interrupts",
        "aimed SIGKILL of the daemon's refresh process after rotation",
        rounds,
        reported,
        "every loss reported at the next call",
    )


def gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def refresh_paused_after_rotation(
    rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> tuple[subprocess.Popen[str], int, Path]:
    """A signed-in account whose forced refresh, asked of the daemon, waits in its
    refresh process after the server rotated: (the asking CLI, that process, the fault
    point's file: remove it to let the refresh go on)."""
    write_provider(rig.home, auth_server)
    sign_in_cli(rig)
    assert rig.cli("get-token", "corp", "alice").returncode == 0  # the daemon is up
    ready = tmp_path / "daemon-ready"
    asker = ask_for_refresh(rig)
    wait_for(ready, asker)
    return asker, paused_child(ready), ready


def assert_stored_refresh_token_alive(rig: BrokerRig, auth_server: AuthServer) -> None:
    final = stored_refresh_token(rig)
    assert final is not None
    assert auth_server.introspect(final), "the refresh token in the store is dead"


def test_a_stop_of_the_whole_service_waits_for_the_refresh_processes_save(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder, tmp_path: Path
) -> None:
    # As systemd stops the unit (KillMode=control-group): SIGTERM to the daemon and to its
    # refresh process at once, while the refresh holds a rotated, unsaved token.
    asker, child, ready = refresh_paused_after_rotation(rig, auth_server, tmp_path)
    daemon = rig.owner_pid()
    assert daemon is not None
    os.kill(child, signal.SIGTERM)
    os.kill(daemon, signal.SIGTERM)
    # The daemon leaves without waiting on the refresh; the refresh holds its SIGTERM.
    assert gone(daemon), "the daemon did not leave"
    assert Path(f"/proc/{child}").exists()
    ready.unlink()
    _, err = asker.communicate(timeout=30)
    # Its caller was answered before the daemon left, with a named error.
    assert asker.returncode == 1, err
    assert "goes on in its own process" in err
    assert gone(child), "the refresh process did not finish"
    got = rig.cli("get-token", "corp", "alice")
    assert got.returncode == 0, got.stderr + rig.log_text()
    assert auth_server.introspect(got.stdout.strip())
    assert_stored_refresh_token_alive(rig, auth_server)
    assert "Traceback" not in rig.log_text()
    hostile_record(
        "interrupts", "SIGTERM to the daemon and its refresh process after rotation", 1, 1
    )


def test_a_sigterm_to_the_refresh_process_after_rotation_still_answers_its_caller(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder, tmp_path: Path
) -> None:
    # A `kill` of the refresh process while the daemon stays: it saves, answers the
    # daemon, then exits; the caller gets its token, not "ended without an answer".
    asker, child, ready = refresh_paused_after_rotation(rig, auth_server, tmp_path)
    os.kill(child, signal.SIGTERM)
    ready.unlink()
    out, err = asker.communicate(timeout=30)
    assert asker.returncode == 0, err + rig.log_text()
    assert auth_server.introspect(out.strip())
    assert gone(child), "the refresh process did not exit after its answer"
    assert_stored_refresh_token_alive(rig, auth_server)
    assert "without an answer" not in rig.log_text()
    hostile_record("interrupts", "SIGTERM to the daemon's refresh process after rotation", 1, 1)


def test_a_keyring_locked_during_a_refresh_loses_nothing(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder, tmp_path: Path
) -> None:
    assert rig.keyring is not None
    write_provider(rig.home, auth_server)
    sign_in_cli(rig)
    assert rig.cli("get-token", "corp", "alice").returncode == 0  # the daemon is up
    ready = tmp_path / "daemon-ready"
    asker = ask_for_refresh(rig)
    # The server has rotated; the screen locks before the daemon saves.
    wait_for(ready, asker)
    rig.keyring.lock()
    ready.unlink()
    out, err = asker.communicate(timeout=30)
    assert asker.returncode == 0, err + rig.log_text()
    got = rig.cli("get-token", "corp", "alice")
    assert got.returncode == 0, got.stderr
    assert got.stdout == out  # served from the daemon's memory
    rig.keyring.unlock()
    # Leaving saves what the store refused before; the next process finds it stored.
    rig.stop_daemon()
    got = rig.cli("--no-daemon", "get-token", "corp", "alice")
    assert got.returncode == 0, got.stderr
    assert_stored_refresh_token_alive(rig, auth_server)
    hostile_record(
        "interrupts", "keyring locked during a refresh, unlocked later", 1, 1, "no new sign-in"
    )
