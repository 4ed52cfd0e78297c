"""Servers that bend the loopback rules: a redirect URI matched exactly, port included,
and an OIDC nonce required with ``openid``. And the local server a new user can try
OAuth against with no account anywhere."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sigilforge.errors import InvalidArgument
from sigilforge.providers import parse_providers
from sigilforge.testing.authserver import AuthServer, consent
from sigilforge.testing.cli import CliFlow, RunCli
from sigilforge.testing.home import Home
from sigilforge.testing.signin import write_provider


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def strict(home: Home) -> Iterator[AuthServer]:
    port = _free_port()
    with AuthServer(redirect_uri=f"http://127.0.0.1:{port}/callback", require_nonce=True) as server:
        write_provider(home, server, name="strict")
        with (home.config_dir / "providers.toml").open("a") as fh:
            fh.write('scopes = ["openid", "email"]\n')
        yield server


def test_exact_redirect_uri_and_nonce_complete_the_browser_flow(
    home: Home, strict: AuthServer, run_cli: RunCli
) -> None:
    flow = CliFlow(home.env, "add-account", "strict", "alice", "--no-browser")
    url = flow.line_after("Open this address in a browser")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [strict.redirect_uri]
    assert "openid" in query["scope"][0].split()
    assert query["nonce"][0]
    page = consent(url)
    assert page.status_code == 200, page.text
    code, _, err = flow.finish()
    assert code == 0, err
    assert "added strict/alice (oauth2)" in err
    assert run_cli("get-token", "strict", "alice").stdout.startswith("tok-")


def test_the_strict_server_refuses_any_other_redirect_uri(strict: AuthServer) -> None:
    # The rig must really be strict, or the test above proves nothing.
    other = f"http://127.0.0.1:{_free_port()}/callback"
    status, _, text = strict._authorize(
        {
            "client_id": strict.client_id,
            "redirect_uri": other,
            "response_type": "code",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
            "scope": "openid",
            "nonce": "n",
        }
    )
    assert status == 400
    assert "exactly" in text


def test_an_id_token_with_another_nonce_is_refused(home: Home, strict: AuthServer) -> None:
    strict.id_token_nonce = "replayed-from-another-sign-in"
    flow = CliFlow(home.env, "add-account", "strict", "alice", "--no-browser")
    consent(flow.line_after("Open this address in a browser"))
    code, _, err = flow.finish()
    assert code == 6, err
    assert "nonce" in err
    assert "Traceback" not in err


def test_a_taken_port_is_a_named_error(home: Home, strict: AuthServer) -> None:
    assert strict.redirect_uri is not None
    port = urlsplit(strict.redirect_uri).port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port or 0))
        taken.listen()
        flow = CliFlow(home.env, "add-account", "strict", "alice", "--no-browser")
        code, _, err = flow.finish()
    assert code == 2, err
    assert f"port {port} is in use by another program" in err
    assert "redirect_uri" in err


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:8765/callback",  # a name may resolve off-host
        "http://127.0.0.1/callback",  # no port: nothing fixed to bind
        "https://127.0.0.1:8765/callback",
        "http://192.0.2.1:8765/callback",
        "http://127.0.0.1:8765/callback?x=1",
    ],
)
def test_redirect_uri_must_be_a_loopback_literal_with_a_port(uri: str) -> None:
    data = {"providers": {"corp": {"issuer": "https://x.example", "client_id": "c"}}}
    data["providers"]["corp"]["redirect_uri"] = uri
    with pytest.raises(InvalidArgument, match="redirect_uri"):
        parse_providers(data)


def test_try_oauth_locally_prints_an_entry_and_leaves_providers_toml_alone(
    home: Home, run_cli: RunCli
) -> None:
    mine = home.config_dir / "providers.toml"
    home.config_dir.mkdir(parents=True, exist_ok=True)
    mine.write_text('[providers.github]\nclient_id = "Iv1.mine"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "sigilforge.testing.authserver", "--provider-name", "local"],
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Then, in another terminal"):
                break
        text = "\n".join(lines)
        assert f"Add this to {mine} (it is not written for you)" in text
        assert mine.read_text() == '[providers.github]\nclient_id = "Iv1.mine"\n'
        entry = text[text.index("[providers.local]") : text.index("Then,")].strip()
        # What the user does with it: append it, and sign in.
        with mine.open("a") as fh:
            fh.write("\n" + entry + "\n")
        flow = CliFlow(home.env, "add-account", "local", "alice", "--no-browser")
        assert consent(flow.line_after("Open this address in a browser")).status_code == 200
        code, _, err = flow.finish()
        assert code == 0, err
        assert run_cli("get-token", "local", "alice").stdout.strip()
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


def test_docs_name_the_try_oauth_command() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "oauth.md").read_text()
    assert "python -m sigilforge.testing.authserver" in docs
