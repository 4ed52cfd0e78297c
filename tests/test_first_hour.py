"""What a new user meets in the first hour: messages that name the file and the next
command, output fit for a terminal and for a pipe, no waits on closed input."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sigilforge._advice import with_advice
from sigilforge.broker import Broker
from sigilforge.dbus.errors import UNEXPECTED_MESSAGE, unexpected_message
from sigilforge.errors import ReauthRequired, UnknownProvider
from sigilforge.model import AddOptions
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.cli import RunCli, on_a_terminal
from sigilforge.testing.home import Home
from sigilforge.testing.signin import sign_in, write_provider
from sigilforge.view import expiry, relative

IN_PROCESS = {"SIGILFORGE_NO_DAEMON": "1"}
KEY = "sk-first-hour"


@pytest.fixture
def cli(home: Home, run_cli: RunCli) -> RunCli:
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, stdin=stdin, env=home.env | IN_PROCESS)

    return run


def test_version(cli: RunCli) -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("sigilforge, version ")


def test_a_multi_line_api_key_is_refused_not_cut(cli: RunCli) -> None:
    done = cli("add-account", "openai", "work", "--api-key-stdin", stdin="sk-one\nsk-two\n")
    assert done.returncode == 2
    assert done.stderr == (
        "sigilforge: the API key on standard input has more than one line; give exactly one line\n"
    )
    assert cli("list-accounts", "--json").stdout.strip() == "[]"
    # One line with its newline is the normal case.
    assert cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY + "\n").returncode == 0
    assert cli("get-token", "openai", "work").stdout == KEY + "\n"


def test_paste_with_stdin_at_eof_stops_at_once(home: Home, auth_server: AuthServer) -> None:
    write_provider(home, auth_server, flow_timeout_secs=300)
    # The flow would wait 300 s; closed input must end it now. The timeout bounds the
    # test only: a hang fails it instead of blocking the suite.
    done = subprocess.run(
        [sys.executable, "-m", "sigilforge", "add-account", "corp", "bob", "--paste"],
        env=home.env | IN_PROCESS,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 7, done.stderr
    assert "standard input ended before an address was pasted" in done.stderr
    assert "Traceback" not in done.stderr


def test_reauth_says_which_command_fixes_it(
    home: Home, auth_server: AuthServer, cli: RunCli
) -> None:
    write_provider(home, auth_server)
    with Broker.open() as broker:
        sign_in(broker, "alice")
    auth_server.fail_next("invalid_grant")
    done = cli("refresh-token", "corp", "alice")
    assert done.returncode == 5
    assert done.stderr.rstrip().endswith("; run: sigilforge add-account corp alice")
    # resolve names the account in a reference; the advice finds it there.
    again = cli("resolve", "auth://corp/alice")
    assert again.returncode == 5
    assert again.stderr.rstrip().endswith("; run: sigilforge add-account corp alice")


def test_advice_is_the_clis_not_the_errors() -> None:
    exc = ReauthRequired("corp/bob needs to sign in again")
    assert with_advice(exc, ["-v", "resolve", "auth://corp/bob/token"]).endswith(
        "run: sigilforge add-account corp bob"
    )
    assert with_advice(exc, ["get-token", "corp", "bob"]).endswith("add-account corp bob")


def test_unknown_provider_advice_is_added_by_the_cli_only(home: Home, cli: RunCli) -> None:
    # The broker's message (what a D-Bus caller reads too) carries no CLI flags.
    with Broker.open() as broker, pytest.raises(UnknownProvider) as raised:
        broker.add_account("nosuch", "me", AddOptions(open_browser=False))
    assert "--api-key-stdin" not in raised.value.message
    assert "providers.toml" in raised.value.message
    done = cli("add-account", "nosuch", "me", "--no-browser")
    assert done.returncode == 3
    assert done.stderr.rstrip().endswith(
        "for an API key instead: sigilforge add-account nosuch me --api-key-stdin"
    )


def test_missing_client_id_names_providers_toml_with_its_path(home: Home, cli: RunCli) -> None:
    done = cli("add-account", "github", "personal", "--no-browser")
    assert done.returncode == 3
    assert f"to {home.config_dir / 'providers.toml'}" in done.stderr


def test_a_singular_provider_table_is_warned_about(home: Home, cli: RunCli) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "providers.toml").write_text(
        '[provider.corp]\nissuer = "https://corp.example"\nclient_id = "x"\n'
    )
    done = cli("add-account", "corp", "me", "--no-browser")
    assert done.returncode == 3
    assert "ignoring unknown table or key 'provider' (did you mean [providers.NAME]?)" in (
        done.stderr
    )


def test_unknown_config_keys_are_warned_about_by_name(home: Home, cli: RunCli) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "config.toml").write_text("idle_timeout = 5\n")
    done = cli("list-accounts")
    assert done.returncode == 0
    assert f"{home.config_dir / 'config.toml'}: ignoring unknown key idle_timeout" in done.stderr


def test_expiry_is_local_time_with_seconds_zone_and_distance() -> None:
    now = time.time()
    shown = expiry(int(now) + 14, now=int(now))
    zone = time.strftime("%Z", time.localtime(now + 14))
    assert shown.endswith(f":{time.strftime('%S', time.localtime(now + 14))} {zone} (in 14 s)")
    assert expiry(None) == "never"
    assert relative(-7200) == "2 h ago"
    assert relative(185) == "in 3 min"


def test_list_accounts_says_never_for_no_expiry(cli: RunCli) -> None:
    cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY)
    table = cli("list-accounts").stdout.splitlines()
    assert table[0].split()[:5] == ["SERVICE", "ACCOUNT", "KIND", "STATUS", "EXPIRES"]
    assert table[1].split()[:5] == ["openai", "work", "api_key", "ok", "never"]


def test_emphasis_only_on_a_terminal_and_never_with_no_color(home: Home, cli: RunCli) -> None:
    cli("add-account", "openai", "work", "--api-key-stdin", stdin=KEY)
    env = home.env | IN_PROCESS
    env.pop("NO_COLOR", None)
    assert "\x1b[1m" in on_a_terminal(env, "list-accounts")
    assert "\x1b" not in on_a_terminal(env | {"NO_COLOR": "1"}, "list-accounts")
    assert "\x1b" not in cli("list-accounts").stdout


def test_verbose_says_what_answered_and_which_files(home: Home, cli: RunCli) -> None:
    done = cli("-v", "list-accounts")
    assert "ran the broker in this process; secret store: auto" in done.stderr
    assert f"accounts: {home.config_dir / 'accounts.json'}" in done.stderr
    assert f"providers: {home.config_dir / 'providers.toml'} (none)" in done.stderr


def test_unexpected_errors_say_where_the_log_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    from sigilforge import paths

    assert unexpected_message() == f"{UNEXPECTED_MESSAGE}: {paths.log_file()}"
    monkeypatch.setenv("INVOCATION_ID", "0123")
    assert unexpected_message().endswith("journalctl --user -u sigilforge")


def test_the_daemons_errors_land_where_its_replies_say(home: Home) -> None:
    # Started by dbus-daemon without systemd, the daemon's stderr goes nowhere a user
    # looks: the errors also go to the file an "internal error" reply names.
    import logging

    from sigilforge import paths
    from sigilforge._daemon_log import _ErrorFile

    assert not paths.log_file().exists()
    handler = _ErrorFile()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit(logging.makeLogRecord({"msg": "bus call GetToken failed", "levelno": 40}))
    assert paths.log_file().read_text() == "bus call GetToken failed\n"
    assert paths.log_file().stat().st_mode & 0o777 == 0o600
    assert str(paths.log_file()) in unexpected_message()


def test_daemon_without_a_session_bus_says_one_line(home: Home) -> None:
    env = {k: v for k, v in home.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-c", "from sigilforge.daemon import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "sigilforge-daemon: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)\n"
    )


def test_cli_without_a_session_bus_says_one_line_once_a_day(home: Home, run_cli: RunCli) -> None:
    env = home.env | {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={home.root}/no-bus"}
    first = run_cli("list-accounts", env=env)
    assert first.returncode == 0
    assert first.stderr.splitlines()[0] == (
        f"sigilforge: no broker daemon reachable (no D-Bus session bus (no such file or "
        f"directory at unix:path={home.root}/no-bus)); running in-process (to run it as a "
        "service: sigilforge service install)"
    )
    second = run_cli("list-accounts", env=env)
    assert "no broker daemon reachable" not in second.stderr
    assert "no broker daemon reachable" in run_cli("-v", "list-accounts", env=env).stderr


def test_readme_tells_how_to_install_and_uninstall() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for text in (
        "Python 3.11",
        "pipx install",
        "## Uninstall",
        "sigilforge service uninstall",
        "secret-tool clear xdg:schema org.sigilforge.Token1",
        "journalctl --user -u sigilforge",
    ):
        assert text in readme, text


def test_network_errors_say_why_in_words(home: Home, cli: RunCli) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "providers.toml").write_text(
        f'[providers.gone]\nissuer = "http://127.0.0.1:{port}"\nclient_id = "c"\n'
    )
    done = cli("add-account", "gone", "me", "--no-browser")
    assert done.returncode == 6, done.stderr
    assert f"at 127.0.0.1:{port} (connection refused)" in done.stderr
    assert "Error)" not in done.stderr


def test_no_error_message_is_built_from_a_class_name() -> None:
    # "(KeyError)", "(ConnectError)": a user cannot act on a library's class name. Logs
    # (describe_unexpected) may name it; a message raised to a caller may not.
    import re

    root = Path(__file__).parents[1] / "sigilforge"
    raised = re.compile(r"(?:raise|return) [A-Z]\w*\(\s*f?\"[^\"]*\{type\(\w+\)\.__name__\}", re.S)
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "testing" not in path.parts and raised.search(path.read_text())
    ]
    assert offenders == []


def test_the_shipped_man_page_is_rendered_from_the_commands() -> None:
    from sigilforge.cli.manpage import render

    shipped = (Path(__file__).parents[1] / "data" / "sigilforge.1").read_text()
    assert shipped == render(), "run: make man"
    for verb in ("add\\-account", "service restart", "service uninstall", "\\-\\-idle\\-timeout"):
        assert verb in shipped, verb
    assert "Show this message and exit" not in shipped


def test_the_git_table_in_config_toml_is_not_unknown(home: Home, cli: RunCli) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "config.toml").write_text('[git]\n"git.example" = "corp/alice"\n')
    assert "unknown key" not in cli("list-accounts").stderr
