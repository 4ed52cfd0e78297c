"""The test tree's own rules: rigs come from ``sigilforge.testing``, never from a conftest
(conftest modules only define fixtures), so tests, demo and bench share one set of rigs."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_imports_a_conftest_or_the_old_support_package() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for folder in ("tests", "demo", "bench")
        for path in (ROOT / folder).rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[-1] == "conftest" or module.startswith("tests.support")
    }
    assert not offenders, sorted(offenders)
