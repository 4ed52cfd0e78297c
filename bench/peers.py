"""The peers, set up on the benchmark's private bus and keyring.

- GNOME Online Accounts (``goa-daemon`` from Debian), activatable on the private bus,
  run with networking cut (``unshare -n``) so its start-up check fails at once instead
  of calling Google, holding one Google account whose credentials are a keyring item
  exactly as GOA writes them.
- ``gh`` with its token in ``hosts.yml`` under ``GH_CONFIG_DIR``.
- ``secret-tool lookup`` of the broker's own item: libsecret's floor for one read.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.rigs import BrokerRig

GOA_NAME = "org.gnome.OnlineAccounts"
GOA_ACCOUNT_ID = "account_1700000000_0"
GOA_PATH = f"/org/gnome/OnlineAccounts/Accounts/{GOA_ACCOUNT_ID}"
GOA_OAUTH2 = "org.gnome.OnlineAccounts.OAuth2Based"
GOA_TOKEN = "ya29.goa-bench-access-token"
# 11 is the credentials generation of GOA's Google provider: part of the keyring lookup key.
GOA_IDENTITY = f"google:gen11:{GOA_ACCOUNT_ID}"
GOA_DAEMON_PATHS = ("/usr/libexec/goa-daemon", "/usr/lib/gnome-online-accounts/goa-daemon")
GH_TOKEN = "gho_benchBENCHbench0123456789abcdefABCD"


def goa_daemon() -> str:
    for path in GOA_DAEMON_PATHS:
        if Path(path).exists():
            return path
    raise RuntimeError("goa-daemon not found (apt-get install gnome-online-accounts)")


def install_goa(rig: BrokerRig) -> None:
    """One Google account in accounts.conf, its tokens in the keyring, and an activation
    file that starts goa-daemon without network on the rig's bus."""
    conf_dir = Path(rig.env["XDG_CONFIG_HOME"]) / "goa-1.0"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "accounts.conf").write_text(
        f"[Account {GOA_ACCOUNT_ID}]\n"
        "Provider=google\n"
        "Identity=bench@example.com\n"
        "PresentationIdentity=bench@example.com\n"
        + "".join(
            f"{feature}Enabled=false\n"
            for feature in ("Mail", "Calendar", "Contacts", "Files", "Photos", "Printers")
        )
    )
    expires_us = int((time.time() + 10 * 365 * 86400) * 1_000_000)
    # The GVariant text GOA's OAuth2 provider writes and parses back (g_variant_parse).
    secret = (
        f"{{'access_token': <'{GOA_TOKEN}'>, "
        f"'access_token_expires_at': <int64 {expires_us}>, "
        f"'refresh_token': <'goa-bench-refresh-token'>}}"
    )
    done = subprocess.run(
        [
            "secret-tool",
            "store",
            "--label=GOA google credentials for identity bench",
            "xdg:schema",
            "org.gnome.OnlineAccounts",
            "goa-identity",
            GOA_IDENTITY,
        ],
        input=secret,
        text=True,
        env=rig.env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"storing GOA's credentials failed: {done.stderr.strip()}")
    # The isolated env's XDG_DATA_DIRS hides the system's GSettings schemas, without
    # which GLib aborts; the memory backend keeps GOA off any real dconf database.
    rig.install_activation_file(
        GOA_NAME,
        [
            "/usr/bin/env",
            "GSETTINGS_SCHEMA_DIR=/usr/share/glib-2.0/schemas",
            "GSETTINGS_BACKEND=memory",
            shutil.which("unshare") or "/usr/bin/unshare",
            "-n",
            goa_daemon(),
        ],
    )


@dataclass(frozen=True)
class Cli:
    argv: list[str]
    env: dict[str, str]
    expect: str
    stdin: str | None = None


def gh_auth_token(rig: BrokerRig) -> Cli:
    config = rig.root / "gh"
    config.mkdir(mode=0o700, exist_ok=True)
    hosts = config / "hosts.yml"
    hosts.write_text(
        f"github.com:\n    oauth_token: {GH_TOKEN}\n    user: bench\n    git_protocol: https\n"
    )
    hosts.chmod(0o600)
    env = {k: v for k, v in rig.env.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN", "GH_HOST"}}
    env.update(GH_CONFIG_DIR=str(config), GH_NO_UPDATE_NOTIFIER="1", GH_PROMPT_DISABLED="1")
    gh = shutil.which("gh")
    if gh is None:
        raise RuntimeError("gh not found (apt-get install gh)")
    return Cli([gh, "auth", "token"], env, GH_TOKEN)


# Items of their own, so the floor's items are never taken for accounts.
FLOOR_SCHEMA = "org.sigilforge.BenchFloor"


def secret_tool_store(rig: BrokerRig, n: int) -> Cli:
    """Store one item with ``secret-tool`` (libsecret) in the broker's keyring: what
    gnome-keyring itself costs per item written, at however many items it holds."""
    argv = ["secret-tool", "store", "--label", f"bench floor {n}"]
    argv += ["xdg:schema", FLOOR_SCHEMA, "n", str(n)]
    return Cli(argv, rig.env, "", stdin=f"floor-secret-{n}")


def secret_tool_lookup(rig: BrokerRig, service: str, account: str, value: str) -> Cli:
    argv = ["secret-tool", "lookup", "xdg:schema", "org.sigilforge.Token1"]
    argv += ["service", service, "account", account, "kind", "api_key"]
    return Cli(argv, rig.env, value)
