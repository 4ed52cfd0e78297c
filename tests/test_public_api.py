"""The fence around the public API (httpx's ``test_exported_members``): everything in
``__all__`` imports, every public attribute of the package is in ``__all__``, and every
submodule is either underscored or listed below as private (the package docstring says
library users import from ``sigilforge`` only)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import sigilforge

# Not underscored for historical reasons, but private: they may change without notice.
# A new module must be added here (or underscored) -- a deliberate decision, not a leak.
PRIVATE_MODULES = {
    "sigilforge.accounts",
    "sigilforge.broker",
    "sigilforge.cli",
    "sigilforge.config",
    "sigilforge.hardening",
    "sigilforge.isolated_refresh",
    "sigilforge.redact",
    "sigilforge.refresh_child",
    "sigilforge.daemon",
    "sigilforge.dbus",
    "sigilforge.entry",
    "sigilforge.errors",
    "sigilforge.fileio",
    "sigilforge.filelock",
    "sigilforge.formats",
    "sigilforge.model",
    "sigilforge.oauth",
    "sigilforge.paths",
    "sigilforge.pending",
    "sigilforge.providers",
    "sigilforge.refresh_timer",
    "sigilforge.refs",
    "sigilforge.resolve",
    "sigilforge.status",
    "sigilforge.store",
    "sigilforge.testing",
    "sigilforge.tokens",
    "sigilforge.view",
}


# Public modules: in ``__all__`` by their short name.
PUBLIC_MODULES = {"sigilforge.events", "sigilforge.refresh_guard"}


def _top_level_modules() -> set[str]:
    return {m.name for m in pkgutil.iter_modules(sigilforge.__path__, "sigilforge.")}


def test_every_name_in_all_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from sigilforge import *", namespace)  # the way a user would
    for name in sigilforge.__all__:
        assert namespace[name] is getattr(sigilforge, name), name


def test_every_public_attribute_is_in_all() -> None:
    for name in sigilforge.__all__:
        getattr(sigilforge, name)  # loads the lazy names
    for module in PRIVATE_MODULES:
        importlib.import_module(module)  # submodules become attributes of the package
    members = {
        name
        for name, value in vars(sigilforge).items()
        if (not name.startswith("_") or name == "__version__")
        and not (isinstance(value, types.ModuleType) and value.__name__ in PRIVATE_MODULES)
    }
    assert members == set(sigilforge.__all__)
    assert dir(sigilforge) == sorted(sigilforge.__all__)


def test_every_module_is_underscored_or_listed_private() -> None:
    unlisted = {
        name
        for name in _top_level_modules()
        if not name.removeprefix("sigilforge.").startswith("_")
        and name not in PRIVATE_MODULES | PUBLIC_MODULES
    }
    assert not unlisted, sorted(unlisted)
    # And the list names no module that is gone.
    assert _top_level_modules() >= PRIVATE_MODULES | PUBLIC_MODULES
    assert {m.removeprefix("sigilforge.") for m in PUBLIC_MODULES} <= set(sigilforge.__all__)


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
