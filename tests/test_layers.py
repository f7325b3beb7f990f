"""The package's layers, as its tree shows them: the estimates at the top level need neither
torch, matplotlib nor ipywidgets; the explorers' pure halves need not even numpy (the website
will run them in a browser Python that has none); the import graph has no cycles; no module
grows past 800 lines."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import bigcompute

PACKAGE = Path(bigcompute.__file__).parent
# Subpackages that may import torch (lab), matplotlib (plots) or ipywidgets (widgets).
HEAVY = ("lab", "plots", "widgets")
MAX_LINES = 800


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))
LIGHT = [m for m in MODULES if m.split(".")[1:2] not in ([h] for h in HEAVY)
         and m != "bigcompute.__main__"]


def _import_without(modules: list[str], blocked: tuple[str, ...], code: str = "") -> dict:
    """Import ``modules`` in a fresh interpreter in which ``blocked`` cannot be imported;
    returns {"failed": {module: error}, "output": what ``code`` printed}."""
    script = f"""
import importlib, importlib.abc, json, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked in this test")
sys.meta_path.insert(0, Block())
failed = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{{type(exc).__name__}}: {{exc}}"
output = {{}}
{code}
print(json.dumps({{"failed": failed, "output": output}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_estimates_import_without_torch_matplotlib_or_ipywidgets():
    assert LIGHT and "bigcompute.memory" in LIGHT and "bigcompute.validation.gpu" in LIGHT
    result = _import_without(LIGHT, ("torch", "matplotlib", "ipywidgets"))
    assert result["failed"] == {}


def test_the_explorers_render_every_default_without_numpy_either():
    explorers = [m for m in MODULES if m.startswith("bigcompute.explorers")]
    code = """
from bigcompute.explorers import SPECS
for key, spec_class in SPECS.items():
    spec = spec_class()
    given = {k: 2.5 for k in ("price_per_device_hour", "grid_kg_per_kwh") if k in spec.extra}
    rendered = spec.render(spec.settings(**given))
    output[key] = [len(rendered.html), rendered.chart.recipe if rendered.chart else None,
                   sorted(spec.controls())]
"""
    result = _import_without(explorers, ("numpy", "torch", "matplotlib", "ipywidgets"), code)
    assert result["failed"] == {}
    from bigcompute.explorers import SPECS

    assert set(result["output"]) == set(SPECS)
    for key, (html_length, recipe, controls) in result["output"].items():
        assert html_length > 100 and recipe.endswith("_chart"), key
        spec = SPECS[key]()
        given = {k: 2.5 for k in ("price_per_device_hour", "grid_kg_per_kwh") if k in spec.extra}
        assert set(controls) == set(spec.settings(**given)) | set(spec.derived), key

def _imports(path: Path) -> set[str]:
    """The bigcompute modules ``path`` imports, anywhere in it (lazy imports included)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found.update(c for c in candidates if c in MODULES and c != module)
    return found


def test_the_import_graph_has_no_cycles():
    graph = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}
    # a package's __init__ re-exporting its modules is not a dependency of those modules
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if not state.get(nxt):
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])


def test_nothing_outside_lab_imports_lab_except_the_book_display():
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.split(".")[1:2] in (["lab"], ["widgets"], ["plots"], ["coursework"]):
            continue
        assert not any(t.startswith("bigcompute.lab") for t in _imports(path)), name


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=_module_name)
def test_no_module_is_longer_than_800_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES
