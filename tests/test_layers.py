"""The package's layers: each folder (or top-level module) is one layer and imports only from its
own layer or the ones listed before it; no module takes part in an import cycle.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a deferred
import hides a dependency from the interpreter, not from the reader.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "acquire"

#: Lowest first. A module may import from its own entry and the entries before it.
LAYERS: list[set[str]] = [
    {"errors", "ids", "logs", "metrics", "serialization", "version"},
    {"settings"},
    {"connection", "models", "events"},
    {"analysis"},
    {"store"},
    {"http"},
    {"sources"},
    {"results"},
    {"client", "progress"},
    {"webhooks"},
    {"runtime"},
    {"jobs"},
    {"worker"},
    {"web"},
    {"testing"},
    {"cli"},
    {"__init__", "__main__"},
]

#: Loaded by ``import acquire.client``: nothing of the job runtime or the tools above it (the
#: typed results include the risk-drift report's models, hence the pure analysis package).
CLIENT_MAY_LOAD = {
    "client",
    "errors",
    "events",
    "version",
    "analysis",
    "results",
    "ids",
    "serialization",
    "settings",
    "connection",
    "models",
    "store",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The acquire modules ``name`` imports (``from acquire import x`` names module ``x`` if it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    key = "__init__" if len(parts) == 1 else parts[1]
    if MODULES[module].name == "__main__.py":
        key = "__main__"
    for index, names in enumerate(LAYERS):
        if key in names:
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_nothing_imports_from_a_layer_above() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_walk_sees_imports() -> None:
    # The positive control: known edges are found, so an empty violation list means something.
    assert "acquire.store.jobs" in GRAPH["acquire.client"]
    assert "acquire.runtime.run" in GRAPH["acquire.worker"]
    assert "acquire.jobs.registry" in GRAPH["acquire.worker"]  # imported inside functions
    assert _layer("acquire.worker") > _layer("acquire.runtime.run") > _layer("acquire.store.jobs")


@pytest.mark.parametrize("module", ["acquire.client", "acquire"])
def test_importing_the_client_loads_no_job_runtime(module: str) -> None:
    loaded_names = "sorted(m for m in sys.modules if m.partition('.')[0] == 'acquire')"
    code = f"import json, sys, {module}; print(json.dumps({loaded_names}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    assert "acquire.client" in loaded
    beyond = [m for m in loaded if m != "acquire" and m.split(".")[1] not in CLIENT_MAY_LOAD]
    assert beyond == []
