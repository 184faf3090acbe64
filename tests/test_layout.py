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
