"""One grant, three processes: the daemon and two in-process CLIs whose XDG_RUNTIME_DIR
differ (one has none). With rotating refresh tokens and reuse detection, a refresh by
one that another did not see the lock of would revoke the whole grant; one lock beside
accounts.json, and a re-read of the store on ``invalid_grant``, mean none is ever lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from sigilforge.testing.authserver import AuthServer, consent
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.cli import CliFlow
from sigilforge.testing.hostile_report import Recorder, count
from sigilforge.testing.signin import write_provider


def sign_in(rig: BrokerRig) -> None:
    flow = CliFlow(rig.env, "--no-daemon", "add-account", "corp", "alice", "--no-browser")
    assert consent(flow.line_after("Open this address in a browser")).status_code == 200
    code, _, err = flow.finish()
    assert code == 0, err


def stored_refresh_token(rig: BrokerRig) -> str | None:
    """The refresh token in the rig's keyring, read by a process of the rig's user."""
    script = (
        "from sigilforge import paths; from sigilforge.config import Config;"
        "from sigilforge.store import open_store; from sigilforge.tokens import read_token_set;"
        "s = open_store(Config.load(paths.config_file()).store);"
        "t = read_token_set(s, 'corp', 'alice'); print(t.refresh_token if t else '')"
    )
    done = rig.run(sys.executable, "-c", script)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() or None


def test_daemon_and_two_clis_share_one_rotating_grant(
    rig: BrokerRig, auth_server: AuthServer, hostile_record: Recorder
) -> None:
    auth_server.token_lifetime = 2
    assert auth_server.rotate
    assert auth_server.reuse_detection
    write_provider(rig.home, auth_server)
    sign_in(rig)
    seconds = count(10, 60)
    other_runtime = rig.root / "other-run"
    other_runtime.mkdir(mode=0o700)
    no_runtime = {k: v for k, v in rig.env.items() if k != "XDG_RUNTIME_DIR"}
    looper = [sys.executable, "-m", "sigilforge.testing.looper", "corp", "alice", str(seconds)]
    procs = [
        subprocess.Popen([*looper, "--bus"], env=rig.env, stdout=subprocess.PIPE, text=True),
        subprocess.Popen(
            looper,
            env={**rig.env, "XDG_RUNTIME_DIR": str(other_runtime)},
            stdout=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(looper, env=no_runtime, stdout=subprocess.PIPE, text=True),
    ]
    ok = 0
    errors: Counter[str] = Counter()
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 90)
        assert proc.returncode == 0
        got = json.loads(out)
        ok += got["ok"]
        errors.update(got["errors"])
    refreshes = auth_server.token_requests("refresh_token")
    final = stored_refresh_token(rig)
    alive = final is not None and auth_server.introspect(final)
    hostile_record(
        "rotation",
        f"daemon+2 CLIs, {seconds}s of 2s tokens",
        ok + sum(errors.values()),
        ok,
        f"{refreshes} refreshes, errors {dict(errors) or 0}, refresh token alive: {alive}",
    )
    assert not errors, errors
    assert refreshes >= seconds // 2 - 1, "the tokens were not rotated as often as they expired"
    assert alive, "the stored refresh token is no longer valid at the server"
