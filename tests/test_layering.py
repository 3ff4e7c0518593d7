"""Imports flow downward: entry points → services → kernel → the RBAC core → pure engines.

Read from the source with ``ast`` (nothing is imported), so a new module is checked as soon as it
exists. ``TYPE_CHECKING`` imports are type hints only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "warden"

# module prefix -> the warden packages it may import (besides itself)
ALLOWED = {
    # Pure engines: standard library and third-party libraries only, plus their own package.
    "warden.authz.engine": set(),
    "warden.monitor.kql": {"warden.monitor.kql"},
    "warden.governance.expressions": {"warden.governance.expressions"},
    "warden.governance.policy": {"warden.governance.policy", "warden.governance.expressions"},
    "warden.network.rules": {"warden.network.rules"},
    "warden.backup.chunkstore": {"warden.backup.chunkstore"},
    "warden.governance.templates": {"warden.governance.templates", "warden.governance.expressions"},
    "warden.monitor.tables": {"warden.monitor.tables"},
    "warden.monitor.ingestion.syslog": {"warden.monitor.ingestion.syslog"},
    "warden.monitor.ingestion.data_collector": {"warden.monitor.ingestion.data_collector"},
    "warden.identity.risk": {"warden.identity.risk"},
    "warden.authz.roles": {"warden.authz.engine"},
    "warden.authz.store": {"warden.authz", "warden.kernel"},
    "warden.kernel": {"warden.kernel", "warden.authz.engine", "warden.authz.roles", "warden.authz.store"},
}
ENTRY_POINTS = ("warden.api", "warden.cli", "warden.server")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _warden_imports(path: Path) -> set[str]:
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []  # type-only imports do not create a runtime dependency
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:  # relative: resolve against the package
            base = package[: len(package) - node.level + 1]
            found.add(".".join([*base, node.module] if node.module else base))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("warden"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("warden")}
    return found


def _modules() -> dict[str, set[str]]:
    return {_module_name(path): _warden_imports(path) for path in SRC.rglob("*.py")}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_lower_layers_import_only_what_is_below_them() -> None:
    problems = []
    for module, imports in _modules().items():
        rule = next((ALLOWED[p] for p in sorted(ALLOWED, key=len, reverse=True) if _within(module, p)), None)
        if rule is None:
            continue
        for imported in imports:
            if not any(_within(imported, allowed) for allowed in rule):
                problems.append(f"{module} imports {imported}")
    assert not problems, problems


def test_nothing_but_entry_points_imports_the_api_or_cli() -> None:
    problems = [
        f"{module} imports {imported}"
        for module, imports in _modules().items()
        if not any(_within(module, e) for e in ENTRY_POINTS)
        for imported in imports
        if any(_within(imported, e) for e in ENTRY_POINTS)
    ]
    assert not problems, problems


def test_the_check_sees_real_imports() -> None:
    modules = _modules()
    assert "warden.kernel.pipeline" in modules and "warden.authz.store" in modules["warden.kernel.pipeline"]
