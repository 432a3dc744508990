"""The package is a stack (issue 21): no import circle, type-only imports
included; nothing below the estimator imports it; no file above 500 lines."""

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "charrnn_c"
pytestmark = pytest.mark.skipif(not PACKAGE.is_dir(), reason="needs the source tree")
# The modules above the estimator, which may build one or take one.
ABOVE_MODEL = {"__init__", "__main__", "callbacks", "cli", "cli_commands", "cli_train",
               "export_web", "serve"}


def imports() -> dict[str, set[str]]:
    """{module: the package's modules it imports}, from every import statement
    (those under TYPE_CHECKING and inside functions too)."""
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    found = {}
    for path in PACKAGE.glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= ({node.module.split(".")[0]} if node.module
                          else {alias.name for alias in node.names})
        found[path.stem] = (names & modules) - {path.stem}
    return found


def test_the_imports_form_no_circle():
    graph = imports()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")
    assert set(order) == set(graph)


def test_only_the_layers_above_the_estimator_import_it():
    graph = imports()
    assert {module for module, names in graph.items() if "model" in names} <= ABOVE_MODEL
    # Training, checkpoints and the PyTorch bridge work on plain data.
    for module in ("training", "training_guards", "training_state", "checkpoint",
                   "checkpoint_checks", "weights_file", "torch_bridge", "torch_step"):
        assert "model" not in _reachable(graph, module), module


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for name in graph[todo.pop()]:
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def test_no_source_file_is_above_500_lines():
    long = {path.name: n for path in PACKAGE.iterdir()
            if path.suffix in (".py", ".pyx", ".pxd", ".pxi", ".pyi")
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}
