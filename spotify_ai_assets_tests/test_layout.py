"""The layout's rules, checked on the source: the pure core never imports Dagster, and nothing in the package uses
Dagster's private API (`dagster._...`), which is what breaks on an upgrade."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import spotify_ai_assets

PACKAGE = Path(spotify_ai_assets.__file__).parent


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_core_never_imports_dagster() -> None:
    offenders = {str(p.relative_to(PACKAGE)): name for p in sorted((PACKAGE / "core").rglob("*.py"))
                 for name in _imports(p) if name == "dagster" or name.startswith(("dagster.", "dagster_"))}
    assert offenders == {}


def test_importing_every_core_module_leaves_dagster_unloaded() -> None:
    modules = sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                     for p in (PACKAGE / "core").rglob("*.py"))
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + \
        "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', 'dagster_'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_private_dagster_api_anywhere_in_the_package() -> None:
    offenders = {str(p.relative_to(PACKAGE)): name for p in sorted(PACKAGE.rglob("*.py"))
                 for name in _imports(p) if name.startswith("dagster._") or ".dagster._" in name}
    text_uses = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py")) if "dagster._" in p.read_text()]
    assert offenders == {} and text_uses == []
