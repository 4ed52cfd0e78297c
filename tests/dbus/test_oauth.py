"""OAuth through the daemon: flows started over the bus, the daemon's own refresh and
its signals, re-authentication, and one refresh for many callers in other processes.

The daemon is the real one, activated on the private bus; the provider is the scriptable
authorization server on loopback, configured by issuer only; every token it issues
carries ``MARKER``, so a token on the bus or in a log is found.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sigilforge import errors
from sigilforge.dbus.aio import AsyncClient
from sigilforge.dbus.blocking import BlockingClient
from sigilforge.events import AccountAdded, Event
from sigilforge.model import AccountStatus, AddOptions, Flow
from sigilforge.testing.authserver import AuthServer, consent, enter_user_code
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import CliFlow
from sigilforge.testing.hammer import hammer
from sigilforge.testing.marker import MARKER
from sigilforge.testing.monitor import Monitor
from sigilforge.testing.signin import sign_in

REQUEST_INTERFACE = "org.sigilforge.Broker1.Request"


def sign_in_without_daemon(rig: BrokerRig, account: str) -> None:
    """Add ``corp/account`` in a CLI process of its own (as an earlier session would), so
    the daemon has never seen the account or its token when it starts."""
    flow = CliFlow(rig.env, "--no-daemon", "add-account", "corp", account, "--no-browser")
    assert consent(flow.line_after("Open this address in a browser")).status_code == 200
    code, _, err = flow.finish()
    assert code == 0, err
    assert rig.owner_pid() is None, "the in-process sign-in started a daemon"


def expires_at(rig: BrokerRig, account: str) -> int:
    done = rig.cli("--no-daemon", "list-accounts", "--json")
    assert done.returncode == 0, done.stderr
    (found,) = [a for a in json.loads(done.stdout) if a["account"] == account]
    return int(found["expires_at"])


def dbus_send(rig: BrokerRig, member: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A call through ``dbus-send``, which prints an error reply's name as it came."""
    return rig.run(
        "dbus-send",
        "--session",
        "--print-reply",
        "--reply-timeout=30000",
        "--dest=org.sigilforge.Broker1",
        "/org/sigilforge/Broker1",
        f"org.sigilforge.Broker1.{member}",
        *(f"string:{a}" for a in args),
    )


def response_code_0(monitor: Monitor, handle: str) -> bool:
    return monitor.wait_for(
        f"path={handle}; interface={REQUEST_INTERFACE}; member=Response\n   uint32 0\n", 5
    )


# -- the daemon's proactive refresh -----------------------------------------------------------


@pytest.mark.slow
def test_the_daemon_refreshes_before_expiry_and_says_so_on_the_bus(
    corp_rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> None:
    auth_server.token_lifetime = 3
    sign_in_without_daemon(corp_rig, "alice")
    first_expiry = expires_at(corp_rig, "alice")
    auth_server.token_lifetime = 3600  # the refreshed token lives on: one refresh only
    monitor = Monitor(corp_rig.env, tmp_path / "monitor.txt")
    try:
        # Started by a call that never touches the token; after it, nobody calls.
        assert corp_rig.busctl_call("ListAccounts").returncode == 0
        assert monitor.wait_for("member=TokenRefreshed", timeout=15), monitor.text()
        refreshed_at = time.time()
    finally:
        seen = monitor.stop()
    assert refreshed_at < first_expiry + 1, "refreshed late, not ahead of expiry"
    assert auth_server.token_requests("refresh_token") == 1
    (signal,) = [s for s in monitor.signals() if s.startswith("TokenRefreshed")]
    got = corp_rig.busctl_call("GetToken", "ss", "corp", "alice")
    assert got.returncode == 0, got.stderr
    _, token, expiry = got.stdout.split()
    assert auth_server.introspect(token.strip('"'))
    assert signal == f'TokenRefreshed(string "corp", string "alice", int64 {expiry})'
    assert int(expiry) > first_expiry
    assert MARKER not in seen
    assert MARKER not in corp_rig.log_text()


@pytest.mark.slow
def test_background_refresh_does_not_keep_an_idle_daemon_up(
    corp_rig: BrokerRig, auth_server: AuthServer
) -> None:
    corp_rig.write_config("idle_timeout_secs = 2\nhttp_timeout_secs = 2\n")
    auth_server.token_lifetime = 1  # due every 0.9 s: refreshes all through the idle time
    sign_in_without_daemon(corp_rig, "alice")
    assert corp_rig.busctl_call("ListAccounts").returncode == 0
    assert corp_rig.owner_pid() is not None
    started = time.monotonic()
    assert corp_rig.wait_gone(timeout=15), "refreshing kept the daemon from idling out"
    assert time.monotonic() - started < 6
    log = corp_rig.log_text()
    assert "stopping: idle" in log
    # The refresh stopped before the broker closed: nothing failed on the way out.
    assert "Traceback" not in log
    assert "background refresh" not in log
    assert auth_server.token_requests("refresh_token") >= 1


# -- add-account over the bus -----------------------------------------------------------------


def test_browser_flow_over_the_bus(
    corp_rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> None:
    monitor = Monitor(corp_rig.env, tmp_path / "monitor.txt")

    async def scenario() -> tuple[str, list[Event]]:
        client = await AsyncClient.connect(timeout=20)
        events: list[Event] = []
        try:
            await client.subscribe(events.append)
            options = AddOptions(flow=Flow.BROWSER, open_browser=False)
            request = await client.add_account("corp", "alice", options)
            # The reply came with the prompt while the flow still waits for the user.
            url = request.prompt["authorize_url"]
            assert url.startswith(f"{auth_server.issuer}/authorize?")
            assert auth_server.token_requests() == 0
            assert "member=Response" not in monitor.text()
            page = await asyncio.to_thread(consent, url)
            assert page.status_code == 200, page.text
            account = await request.result(timeout=15)
            assert account.key == ("corp", "alice")
            for _ in range(100):
                if AccountAdded("corp", "alice") in events:
                    break
                await asyncio.sleep(0.05)
            return request.handle, events
        finally:
            client.close()

    handle, events = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert AccountAdded("corp", "alice") in events
    assert response_code_0(monitor, handle), monitor.text()
    got = corp_rig.busctl_call("GetToken", "ss", "corp", "alice")
    assert got.returncode == 0, got.stderr
    token = got.stdout.split()[1].strip('"')
    assert auth_server.introspect(token)
    assert auth_server.token_requests("authorization_code") == 1
    assert MARKER not in monitor.stop()
    assert MARKER not in corp_rig.log_text()


def test_device_flow_over_the_bus(
    corp_rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> None:
    monitor = Monitor(corp_rig.env, tmp_path / "monitor.txt")
    client = BlockingClient.connect(timeout=20)
    try:
        pending = client.add_account("corp", "bob", AddOptions(flow=Flow.DEVICE))
        uri, user_code = pending.prompt["verification_uri"], pending.prompt["user_code"]
        assert uri == f"{auth_server.issuer}/device"
        assert not pending.done()
        enter_user_code(uri, user_code)
        assert pending.result(timeout=20).key == ("corp", "bob")
    finally:
        client.close()
    assert monitor.wait_for('member=AccountAdded\n   string "corp"\n   string "bob"', 5)
    # Response may reach dbus-monitor's output after AccountAdded: wait for it as well.
    assert monitor.wait_for("member=Response\n   uint32 0\n", 5)
    got = corp_rig.busctl_call("GetToken", "ss", "corp", "bob")
    assert got.returncode == 0, got.stderr
    assert auth_server.introspect(got.stdout.split()[1].strip('"'))
    assert MARKER not in monitor.stop()


def test_cli_add_account_goes_through_the_daemon(
    corp_rig: BrokerRig, auth_server: AuthServer
) -> None:
    flow = CliFlow(corp_rig.env, "add-account", "corp", "alice", "--no-browser")
    url = flow.line_after("Open this address in a browser")
    assert url.startswith(f"{auth_server.issuer}/authorize?")
    assert corp_rig.owner_pid() is not None  # activated by the CLI's call
    assert consent(url).status_code == 200
    code, _, err = flow.finish()
    assert code == 0, err
    assert "added corp/alice (oauth2)" in err
    assert "in-process" not in err
    got = corp_rig.cli("get-token", "corp", "alice")
    assert auth_server.introspect(got.stdout.strip())
    assert MARKER not in err + corp_rig.log_text()


def test_a_provider_that_never_answers_does_not_stall_the_daemon(corp_rig: BrokerRig) -> None:
    # AddAccount's start() blocks (discovery, a device code request) until the provider
    # answers or the HTTP time limit passes; other calls must be answered meanwhile.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete, and nothing is ever read or answered
        with (corp_rig.config_dir / "providers.toml").open("a") as fh:
            port = silent.getsockname()[1]
            fh.write(f'[providers.slow]\nissuer = "http://127.0.0.1:{port}"\nclient_id = "x"\n')

        async def scenario() -> None:
            client = await AsyncClient.connect(timeout=30)
            try:
                assert await client.list_accounts() == []  # the daemon is up
                options = AddOptions(flow=Flow.BROWSER, open_browser=False)
                adding = asyncio.ensure_future(client.add_account("slow", "me", options))
                await asyncio.sleep(0.3)  # now inside discovery, waiting on the socket
                loop = asyncio.get_running_loop()
                started = loop.time()
                assert await client.list_accounts() == []
                got = await asyncio.to_thread(corp_rig.busctl_call, "ListAccounts")
                assert got.returncode == 0, got.stderr
                assert loop.time() - started < 1.5
                assert not adding.done()
                with pytest.raises((errors.NetworkError, errors.Timeout)):
                    await adding
            finally:
                client.close()

        asyncio.run(asyncio.wait_for(scenario(), 60))


# -- re-authentication --------------------------------------------------------------------------


def test_invalid_grant_in_the_daemon_is_reauth_required_on_the_bus(
    corp_rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> None:
    auth_server.token_lifetime = 2
    monitor = Monitor(corp_rig.env, tmp_path / "monitor.txt")
    client = BlockingClient.connect(timeout=20)
    try:
        sign_in(client, "alice")
        auth_server.fail_next("invalid_grant")  # the grant is revoked at the provider
        # The daemon's own refresh meets it (no call needed) and says so.
        assert monitor.wait_for("member=ReauthRequired", timeout=10), monitor.text()
        (listed,) = client.list_accounts()
        assert listed.status is AccountStatus.REAUTH_REQUIRED
    finally:
        client.close()
    errors = [dbus_send(corp_rig, "GetToken", "corp", "alice")]
    errors.append(dbus_send(corp_rig, "RefreshToken", "corp", "alice"))
    for done in errors:
        assert done.returncode != 0
        assert "org.sigilforge.Broker1.Error.ReauthRequired" in done.stderr
        assert MARKER not in done.stdout + done.stderr
    (signal,) = [s for s in monitor.signals() if s.startswith("ReauthRequired")]
    assert signal.startswith('ReauthRequired(string "corp", string "alice", string "')
    assert MARKER not in monitor.stop()
    assert MARKER not in corp_rig.log_text()


# -- one refresh for many callers ---------------------------------------------------------------


@pytest.mark.slow
def test_one_refresh_for_100_get_token_calls_from_2_processes(
    corp_rig: BrokerRig, auth_server: AuthServer, tmp_path: Path
) -> None:
    auth_server.token_lifetime = 2
    sign_in_without_daemon(corp_rig, "alice")
    auth_server.token_lifetime = 3600  # so every caller is served within its lifetime
    time.sleep(max(0.0, expires_at(corp_rig, "alice") - time.time()) + 0.2)

    assert corp_rig.owner_pid() is None  # the calls themselves start the daemon
    tokens = hammer(corp_rig.env, tmp_path / "go", bus=True)
    assert len(tokens) == 100
    assert len(set(tokens)) == 1, set(tokens)
    assert auth_server.token_requests("refresh_token") == 1
    assert auth_server.introspect(tokens[0])
