"""add-account through the CLI against a provider configured only by its issuer: the
browser flow (the test follows the printed URL and consents), the paste fallback, and
the device flow (the test enters the printed code)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from sigilforge.testing.authserver import AuthServer, consent, enter_user_code, run_for_demo
from sigilforge.testing.cli import CliFlow, RunCli
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER, files_containing
from sigilforge.testing.signin import write_provider


def _works(server: AuthServer, token: str) -> bool:
    answer = httpx2.get(f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code == 200


def test_browser_flow_with_issuer_only_provider(
    home: Home, corp: AuthServer, run_cli: RunCli
) -> None:
    flow = CliFlow(home.env, "add-account", "corp", "alice", "--no-browser")
    url = flow.line_after("Open this address in a browser")
    assert url.startswith(f"{corp.issuer}/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert urlsplit(query["redirect_uri"][0]).hostname == "127.0.0.1"
    assert "offline_access" not in query.get("scope", [""])[0]

    page = consent(url)
    assert page.status_code == 200
    assert "Signed in" in page.text
    # The page loads nothing from anywhere: no external resource can see the callback.
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "http" not in page.text.lower().replace("http-equiv", "")
    assert page.headers["Cache-Control"] == "no-store"
    code, _, err = flow.finish()
    assert code == 0, err
    assert "added corp/alice (oauth2)" in err

    listed = json.loads(run_cli("list-accounts", "--json").stdout)
    assert [(a["service"], a["account"], a["kind"], a["status"]) for a in listed] == [
        ("corp", "alice", "oauth2", "ok")
    ]
    token = run_cli("get-token", "corp", "alice").stdout.strip()
    assert _works(corp, token)
    assert corp.token_requests("authorization_code") == 1
    # Tokens live in the Secret Service only; no file in the home holds any of them.
    assert files_containing(home.root, MARKER) == []
    assert MARKER not in err


def test_listener_is_closed_after_one_callback(home: Home, corp: AuthServer) -> None:
    flow = CliFlow(home.env, "add-account", "corp", "alice", "--no-browser")
    url = flow.line_after("Open this address in a browser")
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    # Junk on the listener (a favicon, a stale tab) does not end the flow.
    assert httpx2.get(redirect_uri.replace("/callback", "/favicon.ico")).status_code == 404
    assert httpx2.get(f"{redirect_uri}?code=x&state=wrong").status_code == 400
    assert consent(url).status_code == 200
    code, _, err = flow.finish()
    assert code == 0, err
    try:
        httpx2.get(f"{redirect_uri}?code=x&state=y", timeout=2)
    except httpx2.ConnectError:
        pass
    else:
        raise AssertionError("the listener still answers after the sign-in")


def test_paste_fallback(home: Home, corp: AuthServer) -> None:
    flow = CliFlow(home.env, "add-account", "corp", "bob", "--paste")
    url = flow.line_after("Open this address in a browser")
    # The browser is on another machine: it is sent to a loopback address it cannot
    # reach, and the user copies that address from the address bar.
    answer = httpx2.get(url, follow_redirects=False)
    assert answer.status_code == 302
    flow.send("not a url\n")
    flow.send(answer.headers["Location"] + "\n")
    code, _, err = flow.finish()
    assert code == 0, err
    assert "try again" in err
    assert "added corp/bob" in err


def test_refusal_in_the_browser_is_access_denied(
    home: Home, corp: AuthServer, run_cli: RunCli
) -> None:
    corp.consent_answer = "deny"
    flow = CliFlow(home.env, "add-account", "corp", "alice", "--no-browser")
    page = consent(flow.line_after("Open this address in a browser"))
    assert "not completed" in page.text
    code, _, err = flow.finish()
    assert code == 7, err
    assert "refused" in err
    assert run_cli("list-accounts", "--json").stdout.strip() == "[]"


def test_device_flow_with_issuer_only_provider(
    home: Home, corp: AuthServer, run_cli: RunCli
) -> None:
    flow = CliFlow(home.env, "add-account", "corp", "bob", "--device")
    uri = flow.line_after("open this address on any device")
    user_code = flow.line_after("enter the code")
    assert uri == f"{corp.issuer}/device"
    assert flow.line_after("carries the code").endswith(f"user_code={user_code}")
    flow.wait_line("waiting for the sign-in")  # the progress line is shown meanwhile
    enter_user_code(uri, user_code)
    code, _, err = flow.finish()
    assert code == 0, err
    assert "added corp/bob (oauth2)" in err
    token = run_cli("get-token", "corp", "bob").stdout.strip()
    assert _works(corp, token)


@pytest.mark.slow
def test_device_flow_refused_and_slowed_down(home: Home, corp: AuthServer) -> None:
    corp.slow_down_next(1)
    flow = CliFlow(home.env, "add-account", "corp", "bob", "--device")
    uri = flow.line_after("open this address on any device")
    user_code = flow.line_after("enter the code")
    enter_user_code(uri, user_code, allow=False)
    code, _, err = flow.finish()
    assert code == 7, err
    assert "refused" in err
    # One poll got slow_down, so the next came 5 s later, not at the 1 s interval.
    assert corp.token_requests() == 2


def test_device_code_expiry_is_a_timeout(home: Home, auth_server: AuthServer) -> None:
    auth_server.device_lifetime = 2
    write_provider(home, auth_server)
    flow = CliFlow(home.env, "add-account", "corp", "bob", "--device")
    flow.line_after("enter the code")
    code, _, err = flow.finish()
    assert code == 6, err
    assert "expired" in err


def test_plain_http_provider_is_refused(home: Home, run_cli: RunCli) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "providers.toml").write_text(
        '[providers.corp]\nissuer = "http://login.corp.example"\nclient_id = "x"\n'
    )
    result = run_cli("add-account", "corp", "alice", "--no-browser")
    assert result.returncode == 2
    assert "https" in result.stderr


def test_unknown_provider(home: Home, run_cli: RunCli) -> None:
    result = run_cli("add-account", "nosuch", "alice", "--no-browser")
    assert result.returncode == 3
    assert "no provider 'nosuch'" in result.stderr


def test_client_secret_from_the_secret_store(home: Home, run_cli: RunCli) -> None:
    secret = f"{MARKER}-client-secret"
    with AuthServer(client_secret=secret, token_prefix=MARKER) as server:
        write_provider(home, server)
        stored = run_cli("provider", "set-secret", "corp", stdin=secret + "\n")
        assert stored.returncode == 0, stored.stderr
        flow = CliFlow(home.env, "add-account", "corp", "alice", "--no-browser")
        consent(flow.line_after("Open this address in a browser"))
        code, _, err = flow.finish()
        assert code == 0, err
        # The secret is nowhere on disk (providers.toml, accounts.json, logs).
        assert files_containing(home.root, MARKER) == []
        assert run_cli("get-token", "corp", "alice").returncode == 0


def test_demo_helper_sets_up_a_provider(home: Home, run_cli: RunCli) -> None:
    server = run_for_demo(home.config_dir, name="demo", token_lifetime=30)
    try:
        flow = CliFlow(home.env, "add-account", "demo", "me", "--no-browser")
        assert consent(flow.line_after("Open this address in a browser")).status_code == 200
        code, _, err = flow.finish()
        assert code == 0, err
        assert _works(server, run_cli("get-token", "demo", "me").stdout.strip())
    finally:
        server.stop()


def test_opens_the_browser_when_there_is_a_desktop(
    home: Home, corp: AuthServer, run_cli: RunCli, tmp_path: Path
) -> None:
    # A stand-in xdg-open that is a headless user: it consents to whatever it is given.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "from sigilforge.testing.authserver import consent\n"
        "open(sys.argv[0] + '.log', 'w').write(sys.argv[1])\n"
        "consent(sys.argv[1])\n"
    )
    opener.chmod(0o755)
    env = {**home.env, "DISPLAY": ":99", "PATH": f"{bin_dir}:{home.env['PATH']}"}
    result = run_cli("add-account", "corp", "alice", env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Your browser should open" in result.stderr
    opened = (bin_dir / "xdg-open.log").read_text()
    assert opened.startswith(f"{corp.issuer}/authorize?")
    assert opened in result.stderr.splitlines()


def test_provider_verbs(home: Home, corp: AuthServer, run_cli: RunCli) -> None:
    listed = run_cli("provider", "list").stdout.split()
    assert {"corp", "github", "google", "spotify"} <= set(listed)
    assert run_cli("provider", "set-secret", "nosuch", stdin="x\n").returncode == 3
    assert run_cli("provider", "set-secret", "corp", stdin="\n").returncode == 2
    assert run_cli("provider", "set-secret", "corp", stdin="s\n").returncode == 0
    removed = run_cli("provider", "remove-secret", "corp")
    assert "removed the client secret" in removed.stderr
    assert "no secret" in run_cli("provider", "remove-secret", "corp").stderr


def test_api_key_and_oauth_options_do_not_mix(home: Home, run_cli: RunCli) -> None:
    result = run_cli("add-account", "corp", "alice", "--api-key-stdin", "--device", stdin="k\n")
    assert result.returncode == 2


def test_paste_prompt_gives_up_when_the_flow_times_out(home: Home, auth_server: AuthServer) -> None:
    write_provider(home, auth_server, flow_timeout_secs=1.0)
    flow = CliFlow(home.env, "add-account", "corp", "bob", "--paste")
    flow.wait_line("paste it here")
    # Nobody pastes and stdin stays open: the time limit still ends the command.
    assert flow.proc.wait(15) == 6
    _, _, err = flow.finish()
    assert "in time" in err
