"""authlib and httpx2 cost ~125 ms to import: an API key, a token still valid, a
listing never pay for them; a refresh does."""

from __future__ import annotations

import subprocess
import sys

from sigilforge.broker import Broker
from sigilforge.model import AddOptions
from sigilforge.testing.authserver import AuthServer
from sigilforge.testing.home import Home
from sigilforge.testing.signin import sign_in

_PROBE = """
import sys
from sigilforge.broker import Broker
from sigilforge.model import AddOptions
b = Broker.open()
b.list_accounts()
getattr(b, sys.argv[3])(sys.argv[1], sys.argv[2])
print(sorted(m for m in ("authlib", "httpx2") if m in sys.modules))
"""


def _loaded(home: Home, service: str, account: str, call: str = "get_token") -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, service, account, call],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_oauth_libraries_load_only_when_a_network_call_is_due(home: Home, corp: AuthServer) -> None:
    broker = Broker.open()
    broker.add_account("openai", "work", AddOptions(api_key="sk-test")).result()
    sign_in(broker, "alice")
    broker.close()
    assert _loaded(home, "openai", "work") == "[]"
    # A valid OAuth token comes from the store without the OAuth machinery.
    assert _loaded(home, "corp", "alice") == "[]"
    assert _loaded(home, "corp", "alice", "refresh_token") == "['authlib', 'httpx2']"
