"""The layering the code relies on: the engine knows no front end, the front ends touch no storage."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import index

ROOT = Path(__file__).parent.parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "index").glob("*.py")), ids=lambda path: path.name)
def test_the_engine_imports_no_front_end(path: Path) -> None:
    assert not _imports(path) & {"bot", "telegram", "prompt_toolkit", "rich", "typer", "click"}


@pytest.mark.parametrize("path", sorted((ROOT / "bot").glob("*.py")), ids=lambda path: path.name)
def test_front_ends_touch_no_storage_or_vectors(path: Path) -> None:
    assert not _imports(path) & {"faiss", "numpy", "sqlite3", "torch", "sentence_transformers"}


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(index) if not name.startswith("_")} - {"annotations"}
    modules = {name for name, value in vars(index).items() if type(value).__name__ == "module"}
    assert set(index.__all__) == public - modules
    assert index.__all__ == sorted(index.__all__)


def test_importing_the_engine_loads_no_model_runtime() -> None:
    code = "import sys, index.library; print(sorted({'torch', 'faiss', 'spacy', 'onnxruntime'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
