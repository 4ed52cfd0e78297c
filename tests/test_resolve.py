"""References resolved to the secrets they name (``sigilforge.resolve``), through the
library facade a user calls: ``auth://`` fields of API-key and OAuth accounts, the
fields that never resolve, and ``vals`` references, off unless enabled."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge import (
    AddOptions,
    Broker,
    Config,
    InvalidReference,
    NoSuchAccount,
    ProviderError,
)
from sigilforge.accounts import AccountStore
from sigilforge.errors import Timeout
from sigilforge.store.memory import MemoryStore
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER
from sigilforge.testing.signin import sign_in, write_provider

KEY = f"sk-{MARKER}"


def _broker(tmp_path: Path, config: Config | None = None) -> Broker:
    return Broker(
        accounts=AccountStore(tmp_path / "accounts.json"),
        secrets=MemoryStore(),
        config=config,
        lock_dir=tmp_path,
    )


@pytest.fixture
def signed_in(home: Home, auth_server: AuthServer) -> Iterator[Broker]:
    """A broker with ``corp/alice`` signed in at the authorization server (whose tokens,
    refresh tokens included, all carry the marker)."""
    write_provider(home, auth_server)
    broker = Broker.open()
    sign_in(broker, "alice")
    yield broker
    broker.close()


# -- auth:// ----------------------------------------------------------------------------


def test_an_api_key_account_resolves_to_its_key(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    broker.add_account("openai", "work", AddOptions(api_key=KEY)).result(5)
    assert broker.resolve("auth://openai/work") == KEY
    assert broker.resolve("auth://openai/work/token") == KEY
    assert broker.resolve("auth://openai/work/api_key") == KEY
    # An API key has no expiry; 0 says so, as GetToken does.
    assert broker.resolve("auth://openai/work/expires_at") == "0"


def test_an_oauth_account_resolves_to_a_live_access_token_and_its_expiry(
    signed_in: Broker, auth_server: AuthServer
) -> None:
    token = signed_in.resolve("auth://corp/alice")
    assert auth_server.introspect(token), "the server accepts what resolve gave"
    assert signed_in.resolve("auth://corp/alice/token") == token
    expiry = signed_in.get_token("corp", "alice").expires_at
    assert expiry is not None
    assert signed_in.resolve("auth://corp/alice/expires_at") == str(expiry)


def test_an_oauth_account_has_no_api_key_field(signed_in: Broker) -> None:
    with pytest.raises(InvalidReference, match="no api_key field"):
        signed_in.resolve("auth://corp/alice/api_key")


@pytest.mark.parametrize("field", ["refresh_token", "client_secret"])
def test_the_secrets_behind_a_token_never_resolve(
    signed_in: Broker, auth_server: AuthServer, field: str
) -> None:
    # The account holds a refresh token; a reference to it is refused by name, the
    # refusal carries no secret, and nothing is asked of the server.
    before = auth_server.token_requests()
    with pytest.raises(InvalidReference, match=f"{field} never resolves") as info:
        signed_in.resolve(f"auth://corp/alice/{field}")
    assert MARKER not in str(info.value)
    assert auth_server.token_requests() == before


def test_a_reference_to_an_unknown_account_or_field_fails_by_name(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    broker.add_account("openai", "work", AddOptions(api_key=KEY)).result(5)
    with pytest.raises(NoSuchAccount):
        broker.resolve("auth://openai/home")
    with pytest.raises(InvalidReference) as info:
        broker.resolve("auth://openai/work/password")
    assert MARKER not in str(info.value)
    for text in ("", "openai/work", "https://openai/work"):
        with pytest.raises(InvalidReference):
            broker.resolve(text)


# -- vals -------------------------------------------------------------------------------


def _fake_vals(tmp_path: Path, body: str) -> str:
    script = tmp_path / "vals"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_vals_references_are_off_unless_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vals is installed, but the default config never runs it.
    ran = tmp_path / "ran"
    _fake_vals(tmp_path, f"touch {ran}\necho secret\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    broker = _broker(tmp_path)
    for ref in ("ref+echo://hello", "vals:ref+echo://hello"):
        with pytest.raises(InvalidReference, match="enable_vals"):
            broker.resolve(ref)
    assert not ran.exists()


def test_vals_reference_runs_vals_without_a_shell_and_caches(tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    vals = _fake_vals(
        tmp_path, f'echo x >> {counter}\n[ "$1" = get ] || exit 9\nprintf "%s\\n" "$2"\n'
    )
    broker = _broker(tmp_path, Config(enable_vals=True, vals_path=vals, cache_ttl_secs=60))
    ref = "ref+echo://a;b $(touch pwned)"
    assert broker.resolve("vals:" + ref) == ref
    assert broker.resolve(ref) == ref
    assert counter.read_text().count("x") == 1, "the second call came from the cache"
    assert not (Path(os.getcwd()) / "pwned").exists()


def test_vals_results_are_not_kept_when_the_cache_is_off(tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    vals = _fake_vals(tmp_path, f"echo x >> {counter}\necho value\n")
    broker = _broker(tmp_path, Config(enable_vals=True, vals_path=vals, cache_ttl_secs=0))
    assert broker.resolve("ref+echo://a") == "value"
    assert broker.resolve("ref+echo://a") == "value"
    assert counter.read_text().count("x") == 2


def test_vals_failure_is_a_named_error_without_its_output(tmp_path: Path) -> None:
    vals = _fake_vals(tmp_path, f'echo "{MARKER}" >&2\nexit 3\n')
    broker = _broker(tmp_path, Config(enable_vals=True, vals_path=vals))
    with pytest.raises(ProviderError) as info:
        broker.resolve("ref+vault://secret/x")
    assert MARKER not in str(info.value)


def test_vals_that_hangs_is_stopped_at_its_time_limit(tmp_path: Path) -> None:
    vals = _fake_vals(tmp_path, "exec sleep 30\n")
    config = Config(enable_vals=True, vals_path=vals, vals_timeout_secs=0.5)
    with pytest.raises(Timeout):
        _broker(tmp_path, config).resolve("ref+vault://secret/x")


def test_vals_enabled_but_missing_is_a_named_error(tmp_path: Path) -> None:
    config = Config(enable_vals=True, vals_path=str(tmp_path / "no-vals-here"))
    with pytest.raises(ProviderError, match="not found"):
        _broker(tmp_path, config).resolve("ref+vault://secret/x")


@pytest.mark.parametrize("ref", ["ref+vault://a\nb", "vals:echo://x", "ref+x://a\x00b"])
def test_malformed_vals_references_never_reach_vals(tmp_path: Path, ref: str) -> None:
    ran = tmp_path / "ran"
    vals = _fake_vals(tmp_path, f"touch {ran}\n")
    with pytest.raises(InvalidReference):
        _broker(tmp_path, Config(enable_vals=True, vals_path=vals)).resolve(ref)
    assert not ran.exists()
