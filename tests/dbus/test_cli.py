"""The CLI asks the daemon, and runs the broker itself (saying so once) when it cannot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import on_a_terminal

NOTICE = "no broker daemon reachable"


@pytest.fixture
def bare_rig(tmp_path: Path) -> BrokerRig:
    """A session with a keyring but no way to start the broker."""
    with BrokerRig(tmp_path / "bare", activation=False) as rig:
        yield rig  # type: ignore[misc]


def test_get_token_goes_over_the_bus_and_prints_only_the_token(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", "sk-over-the-bus")
    assert broker_rig.owner_pid() is None

    done = broker_rig.cli("get-token", "openai", "work")

    assert (done.returncode, done.stdout, done.stderr) == (0, "sk-over-the-bus\n", "")
    assert broker_rig.owner_pid() is not None


def test_errors_over_the_bus_have_the_in_process_exit_codes(broker_rig: BrokerRig) -> None:
    for args, code in (
        (("get-token", "openai", "nobody"), 3),
        (("get-token", "Bad Name", "x"), 2),
        (("resolve", "auth://openai"), 2),
        (("remove-account", "openai", "nobody"), 3),
    ):
        over_bus = broker_rig.cli(*args)
        in_process = broker_rig.cli("--no-daemon", *args)
        assert over_bus.returncode == in_process.returncode == code, args
        assert over_bus.stderr == in_process.stderr, args


def test_list_and_remove_over_the_bus(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", "sk-1")
    listed = broker_rig.cli("list-accounts", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"service": "openai"' in listed.stdout
    assert NOTICE not in listed.stderr
    assert broker_rig.cli("remove-account", "openai", "work").returncode == 0
    assert broker_rig.cli("--no-daemon", "list-accounts", "--json").stdout.strip() == "[]"


def test_without_a_daemon_the_cli_runs_in_process_and_says_so_once_a_day(
    bare_rig: BrokerRig,
) -> None:
    bare_rig.add_api_key("openai", "work", "sk-local")

    first = bare_rig.cli("get-token", "openai", "work")
    assert (first.returncode, first.stdout) == (0, "sk-local\n"), first.stderr
    assert first.stderr.count(NOTICE) == 1, first.stderr
    assert "(to run it as a service: sigilforge service install)" in first.stderr
    # A script calling it in a loop is not told again and again.
    for args in (("get-token", "openai", "work"), ("list-accounts",)):
        done = bare_rig.cli(*args)
        assert done.returncode == 0, done.stderr
        assert NOTICE not in done.stderr
    # A day later, it is said again.
    stamp = Path(bare_rig.env["XDG_STATE_HOME"]) / "sigilforge" / "in-process-notice"
    day_ago = stamp.stat().st_mtime - 24 * 3600 - 1
    os.utime(stamp, (day_ago, day_ago))
    assert bare_rig.cli("list-accounts").stderr.count(NOTICE) == 1


def test_no_daemon_flag_stays_in_process_silently(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", "sk-local")
    done = broker_rig.cli("--no-daemon", "get-token", "openai", "work")
    assert (done.returncode, done.stdout, done.stderr) == (0, "sk-local\n", "")
    assert broker_rig.owner_pid() is None


def test_without_any_session_bus_the_cli_says_so_and_carries_on(tmp_path: Path) -> None:
    with BrokerRig(tmp_path / "nobus", keyring=False, activation=False) as rig:
        rig.bus.stop()
        done = rig.cli("get-token", "openai", "work")
    assert done.stderr.count(NOTICE) == 1, done.stderr
    assert done.returncode == 3, done.stderr
    assert "no account openai/work" in done.stderr


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("get-token", "openai", "work"), "sk-lean\n"),
        (("list-accounts",), "openai   work     api_key  ok      never"),
        (("list-accounts", "--json"), '"service": "openai"'),
    ],
)
def test_the_scripted_verbs_over_the_bus_import_only_the_lean_client(
    broker_rig: BrokerRig, args: tuple[str, ...], shown: str
) -> None:
    # What keeps `sigilforge get-token` and `list-accounts` near a bare call (timed in bench/).
    broker_rig.add_api_key("openai", "work", "sk-lean")
    done = broker_rig.run(sys.executable, "-X", "importtime", "-m", "sigilforge", *args)
    assert shown in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "sigilforge.dbus.lean" in imported
    heavy = {"click", "jeepney", "typing", "dataclasses", "sigilforge.model", "sigilforge.broker"}
    assert not (heavy | {"sigilforge.store", "asyncio", "xml"}) & imported


def test_list_accounts_prints_the_same_over_the_bus_as_in_process(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", "sk-1")
    broker_rig.add_api_key("anthropic", "home", "sk-2")
    for args in (("list-accounts",), ("list-accounts", "--json")):
        over_bus = broker_rig.cli(*args)
        in_process = broker_rig.cli("--no-daemon", *args)
        assert (over_bus.returncode, over_bus.stderr) == (0, ""), args
        assert over_bus.stdout == in_process.stdout, args
    # -v takes the full CLI through the daemon: the same table again.
    full = broker_rig.cli("-v", "list-accounts")
    assert full.stdout == broker_rig.cli("list-accounts").stdout
    assert "asked the broker daemon" in full.stderr


def test_over_the_bus_emphasis_is_only_on_a_terminal_without_no_color(
    broker_rig: BrokerRig,
) -> None:
    broker_rig.add_api_key("openai", "work", "sk-1")
    env = dict(broker_rig.env)
    env.pop("NO_COLOR", None)
    shown = on_a_terminal(env, "list-accounts")
    assert shown.startswith("\x1b[1mSERVICE")
    assert shown == on_a_terminal(env | {"SIGILFORGE_NO_DAEMON": "1"}, "list-accounts")
    assert "\x1b" not in on_a_terminal(env | {"NO_COLOR": "1"}, "list-accounts")


def test_every_public_name_still_imports_from_the_package() -> None:
    import sigilforge

    for name in sigilforge.__all__:
        assert getattr(sigilforge, name) is not None, name
