"""The package's shape: layers that import only downward, and modules small enough to read."""

import ast

import pytest

from tests.helpers import ROOT

# What each layer may import from srlm (besides itself and the package root).
# core < runtime < engines, loop; training needs core only (it never generates).
ALLOWED = {
    "core": set(),
    "runtime": {"core"},
    "engines": {"core", "runtime"},
    "loop": {"core", "runtime"},
    "training": {"core"},
    "sources": {"core", "loop"},
    "evaluation": {"core", "runtime", "engines", "loop", "sources"},
    "tools": {"core", "evaluation"},
}


def imported(path) -> set[str]:
    """Every module name `path` imports (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def srlm_layers_imported(path) -> set[str]:
    return {n.split(".")[1] for n in imported(path) if n.startswith("srlm.")}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_downward(layer):
    for path in sorted((ROOT / "srlm" / layer).glob("*.py")):
        extra = srlm_layers_imported(path) - ALLOWED[layer] - {layer, "prompts"}
        assert not extra, f"{path.relative_to(ROOT)} imports the layer(s) {sorted(extra)}"


def test_nothing_in_srlm_imports_stages():
    for path in (ROOT / "srlm").rglob("*.py"):
        assert not any(n.split(".")[0] == "stages" for n in imported(path)), path


def test_modules_stay_small():
    for path in [*(ROOT / "srlm").rglob("*.py"), *(ROOT / "stages").glob("*.py")]:
        lines = len(path.read_text().splitlines())
        assert lines <= 300, f"{path.relative_to(ROOT)} has {lines} lines (split it)"
