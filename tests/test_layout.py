"""The house rules that a reader relies on: the library stands alone, and app.py only wires the demo to Gradio."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


def test_import_ddpm_loads_neither_gradio_nor_training_evaluation_or_bench():
    code = ("import sys, ddpm; heavy = [m for m in ('gradio', 'ddpm.train', 'ddpm.evaluate', 'ddpm.bench', 'ddpm.cli', 'demo')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_app_imports_only_the_demo_package_and_gradio():
    assert set(imported_modules(ROOT / "app.py")) - {"__future__", "sys"} == {"demo", "gradio"}


def test_the_library_knows_nothing_of_gradio_or_the_demo():
    for path in (ROOT / "ddpm").glob("*.py"):
        assert not {"gradio", "demo"} & set(imported_modules(path)), path.name


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed (requirements-dev.txt brings it)")
    proc = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def project_imports(path: Path, package: str) -> set[str]:
    """The project modules (ddpm.x, demo.y, as dotted names) that `path`, a module of `package`, imports anywhere: at the
    top, inside a function, or only for type hints (`if TYPE_CHECKING:`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            # `from demo.runner import x` imports demo.runner; `from demo import frames` imports demo.frames.
            found.update(f"{base}.{a.name}" if (ROOT / base.replace(".", "/") / f"{a.name}.py").is_file() else base for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in ("ddpm", "demo")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph (each name to the names it imports), as a path that ends where it starts, or None."""
    done, path = set(), []

    def visit(name):
        if name in path:
            return path[path.index(name):] + [name]
        if name in done or name not in graph:
            return None
        path.append(name)
        for other in sorted(graph[name]):
            if cycle := visit(other):
                return cycle
        path.pop()
        done.add(name)
        return None

    return next((cycle for name in sorted(graph) if (cycle := visit(name))), None)


def test_the_house_has_no_import_cycle():
    graph = {}
    for folder in ("ddpm", "demo"):
        for p in (ROOT / folder).glob("*.py"):
            name = folder if p.stem == "__init__" else f"{folder}.{p.stem}"
            graph[name] = project_imports(p, folder) - {name, folder}  # a module's own package has run before it: no cycle
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_check_sees_every_kind_of_import(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    hints = tmp_path / "hints.py"
    hints.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .shared import Run\n")
    assert project_imports(hints, "demo") == {"demo.shared"}  # an import for type hints only counts too
    inside = tmp_path / "inside.py"
    inside.write_text("def f():\n    from .checkpoint import load_model\n    from ddpm import sampler\n")
    assert project_imports(inside, "ddpm") == {"ddpm.checkpoint", "ddpm.sampler"}  # so does one inside a function


def test_importing_the_request_check_starts_no_thread():
    code = "import threading, demo.request, demo.runner, demo.serving, demo.handlers; print(threading.active_count())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"  # the batcher's thread and the run registry come on first use
