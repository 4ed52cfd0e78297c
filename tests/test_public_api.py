"""The fence around the public API: what a library user may import, and nothing else."""

from __future__ import annotations

import subprocess
import sys

import sigilforge

EXPECTED = {
    "AccessDenied",
    "AccessToken",
    "Account",
    "AccountAdded",
    "AccountExists",
    "AccountKind",
    "AccountRemoved",
    "AccountStatus",
    "AddOptions",
    "Broker",
    "Cancelled",
    "Config",
    "CredentialRef",
    "Event",
    "Flow",
    "InvalidArgument",
    "InvalidReference",
    "NetworkError",
    "NoSuchAccount",
    "Pending",
    "ProviderError",
    "ReauthNeeded",
    "ReauthRequired",
    "Removal",
    "SigilforgeError",
    "StoreCorrupt",
    "StoreLocked",
    "StoreUnavailable",
    "Timeout",
    "TokenRefreshed",
    "UnknownProvider",
    "__version__",
}


def test_all_is_exactly_the_public_names() -> None:
    assert set(sigilforge.__all__) == EXPECTED


def test_every_public_name_is_importable() -> None:
    for name in sigilforge.__all__:
        assert getattr(sigilforge, name) is not None


def test_importing_the_library_loads_no_oauth_http_or_dbus() -> None:
    code = (
        "import sys, sigilforge; "
        "heavy = [m for m in ('authlib', 'httpx2', 'dbus_fast', 'click', 'secretstorage') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
