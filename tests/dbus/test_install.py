"""Files land where freedesktop and systemd look, and they start the daemon."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sigilforge.dbus.activation import dbus_service_template, systemd_unit_template
from sigilforge.testing.broker_rig import BrokerRig, cli_command
from sigilforge.testing.monitor import Monitor

ROOT = Path(__file__).parents[2]


def test_the_templates_service_install_renders_hand_over_to_systemd() -> None:
    assert "SystemdService=sigilforge.service\n" in dbus_service_template()
    assert "Type=dbus\n" in systemd_unit_template()
    assert "BusName=org.sigilforge.Broker1\n" in systemd_unit_template()


@pytest.mark.skipif(shutil.which("meson") is None, reason="meson is not installed")
def test_meson_install_puts_every_file_in_its_place(tmp_path: Path) -> None:
    build, dest = tmp_path / "build", tmp_path / "dest"
    setup = subprocess.run(
        ["meson", "setup", str(build), str(ROOT), "--prefix=/usr"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    install = subprocess.run(
        ["meson", "install", "-C", str(build), "--destdir", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    usr = dest / "usr"
    activation = usr / "share/dbus-1/services/org.sigilforge.Broker1.service"
    assert "Exec=/usr/bin/sigilforge-daemon\n" in activation.read_text()
    assert "SystemdService=sigilforge.service\n" in activation.read_text()
    interface = usr / "share/dbus-1/interfaces/org.sigilforge.Broker1.xml"
    assert (
        interface.read_text()
        == (ROOT / "data/dbus-1/interfaces/org.sigilforge.Broker1.xml").read_text()
    )
    units = list(usr.glob("lib/systemd/user/sigilforge.service"))
    assert len(units) == 1
    assert "ExecStart=/usr/bin/sigilforge-daemon\n" in units[0].read_text()
    for launcher in ("sigilforge", "sigilforge-daemon"):
        path = usr / "bin" / launcher
        assert path.stat().st_mode & 0o111
        assert path.read_text().startswith("#!/")
    packages = list(usr.glob("lib/python3*/*-packages/sigilforge"))
    assert len(packages) == 1
    installed = {p.relative_to(packages[0]).as_posix() for p in packages[0].rglob("*.py")}
    shipped = {
        p.relative_to(ROOT / "sigilforge").as_posix() for p in (ROOT / "sigilforge").rglob("*.py")
    }
    assert installed == shipped
    assert (packages[0] / "py.typed").is_file()
    # The code reads the interface and the templates from inside the package.
    packaged = packages[0] / "_data/dbus-1/interfaces/org.sigilforge.Broker1.xml"
    assert packaged.read_text() == interface.read_text()
    assert (packages[0] / "_data/systemd/sigilforge.service.in").is_file()
    assert (usr / "share/man/man1/sigilforge.1").read_text() == (
        ROOT / "data/sigilforge.1"
    ).read_text()


def test_service_install_user_files_activate_the_daemon(tmp_path: Path) -> None:
    # A bus that reads the per-user service dir, as a desktop session bus does.
    with BrokerRig(tmp_path / "user", activation=False, standard_dirs=True) as rig:
        rig.add_api_key("openai", "work", "sk-installed")
        done = rig.cli("service", "install", "--user")
        assert done.returncode == 0, done.stderr

        data = Path(rig.env["XDG_DATA_HOME"])
        config = Path(rig.env["XDG_CONFIG_HOME"])
        activation = data / "dbus-1/services/org.sigilforge.Broker1.service"
        unit = config / "systemd/user/sigilforge.service"
        daemon = Path(cli_command()[0]).parent / "sigilforge-daemon"
        assert f"Exec={daemon}\n" in activation.read_text()
        assert f"ExecStart={daemon}\n" in unit.read_text()

        rig.bus.reload()
        got = rig.busctl_call("GetToken", "ss", "openai", "work")
        assert got.returncode == 0, got.stderr
        assert got.stdout.strip() == 'sx "sk-installed" 0'

        done = rig.cli("service", "uninstall")
        assert done.returncode == 0, done.stderr
        assert not activation.exists()
        assert not unit.exists()


def test_service_install_asks_the_bus_to_reload(tmp_path: Path) -> None:
    # dbus-broker (Fedora, Arch) may not see a new per-user service dir until ReloadConfig.
    with BrokerRig(tmp_path / "user", activation=False, standard_dirs=True) as rig:
        rule = "type='method_call',interface='org.freedesktop.DBus',member='ReloadConfig'"
        monitor = Monitor(rig.env, tmp_path / "monitor.txt", also=(rule,))
        try:
            done = rig.cli("service", "install")  # no --user: it is the default
            assert done.returncode == 0, done.stderr
            assert "asked the session bus to reload its configuration" in done.stderr
            assert monitor.wait_for("member=ReloadConfig", timeout=10)
        finally:
            monitor.stop()
        # Without any reload by the test, the next call activates the daemon.
        rig.add_api_key("openai", "work", "sk-installed")
        got = rig.busctl_call("GetToken", "ss", "openai", "work")
        assert got.returncode == 0, got.stderr


def test_service_uninstall_stops_the_daemon_and_restart_replaces_it(tmp_path: Path) -> None:
    with BrokerRig(tmp_path / "user", activation=False, standard_dirs=True) as rig:
        assert rig.cli("service", "install").returncode == 0
        rig.add_api_key("openai", "work", "sk-installed")
        assert rig.cli("get-token", "openai", "work").stdout == "sk-installed\n"
        first = rig.owner_pid()
        assert first is not None

        verbose = rig.cli("-v", "get-token", "openai", "work")
        assert f"asked the broker daemon (pid {first}) on the session bus" in verbose.stderr

        restarted = rig.cli("service", "restart")
        assert restarted.returncode == 0, restarted.stderr
        second = rig.owner_pid()
        assert second is not None
        assert second != first
        assert f"stopped the daemon (pid {first})" in restarted.stderr
        assert f"started the daemon (pid {second})" in restarted.stderr

        done = rig.cli("service", "uninstall")
        assert done.returncode == 0, done.stderr
        assert f"stopped the daemon (pid {second})" in done.stderr
        assert rig.owner_pid() is None


def test_restart_without_an_installed_service_says_what_to_run(tmp_path: Path) -> None:
    with BrokerRig(tmp_path / "user", activation=False, standard_dirs=True) as rig:
        done = rig.cli("service", "restart")
    assert done.returncode == 1
    assert "no daemon was running" in done.stderr
    assert done.stderr.rstrip().endswith("run: sigilforge service install")


def test_daemon_help_is_in_the_clis_style() -> None:
    done = subprocess.run(
        [*cli_command(), "daemon", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: sigilforge daemon [OPTIONS]")
    assert "--idle-timeout SECONDS" in done.stdout
