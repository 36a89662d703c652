"""The layering the code relies on: the engine knows no front end and reads no environment, its modules import
each other without a cycle, and the front ends touch no storage and use only what `index` exports."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import index

ROOT = Path(__file__).parent.parent
ENGINE = sorted((ROOT / "index").rglob("*.py"))
FRONT_ENDS = sorted((ROOT / "bot").rglob("*.py"))
ENVIRONMENT_EXCEPTIONS: set[str] = set()
_ENVIRONMENT_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _imported_modules(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in `path`, at any depth (inside functions too), relative ones
    resolved: `import a.b` is ("a.b", []), `from a import b, c` is ("a", ["b", "c"])."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            yield node.lineno, base, [alias.name for alias in node.names]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", ENGINE, ids=_shown)
def test_the_engine_imports_no_front_end(path: Path) -> None:
    assert not _imports(path) & {"bot", "telegram", "prompt_toolkit", "rich", "typer", "click"}


@pytest.mark.parametrize("path", FRONT_ENDS, ids=_shown)
def test_front_ends_touch_no_storage_or_vectors(path: Path) -> None:
    assert not _imports(path) & {"faiss", "numpy", "sqlite3", "torch", "sentence_transformers"}


def test_front_ends_import_only_what_index_exports() -> None:
    """`import index` or `from index import X`, never a module inside it: the facade is the front ends' contract."""
    reaching_in = [
        f"{_shown(path)}:{line} imports {module}"
        for path in FRONT_ENDS
        for line, module, _ in _imported_modules(path)
        if module.startswith("index.")
    ]
    assert not reaching_in, (
        "bot/ must import from `index` itself (add the names it needs to index/__init__.py's exports): "
        + "; ".join(reaching_in)
    )


def _engine_graph() -> dict[str, set[str]]:
    """Which engine module imports which (any import, at any depth), without the `index` facade, whose
    __init__ imports everything by design."""
    modules = {_module_name(path): path for path in ENGINE}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for _, module, names in _imported_modules(path):
            # `from index import streaming` imports the module index.streaming; `from index.x import y`, index.x.
            for target in [f"{module}.{item}" for item in names if f"{module}.{item}" in modules] or [module]:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target not in {name, "index"}:
                    targets.add(target)
        graph[name] = targets
    graph.pop("index")
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (its modules in order, the first repeated at the end), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            if target in visiting:
                return [*visiting[visiting.index(target) :], target]
            if target not in done and (found := visit(target)):
                return found
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done and (found := visit(module)):
            return found
    return None


def test_the_engine_has_no_import_cycle() -> None:
    graph = _engine_graph()
    cycle = _cycle(graph)
    assert cycle is None, f"index/ modules import each other in a circle: {' -> '.join(cycle or [])}"
    # The graph sees subpackages, lazy imports and `from index import module`.
    assert "index.embedding.base" in graph["index.embedding.onnx"]
    assert "index.reranking" in graph["index.answer"]
    assert "index.streaming" in graph["index.articles"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def _environment_reads(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in _ENVIRONMENT_NAMES:
            yield f"{_shown(path)}:{node.lineno} uses {ast.unparse(node)}"
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in _ENVIRONMENT_NAMES:
                    yield f"{_shown(path)}:{node.lineno} imports os.{alias.name}"


def test_the_engine_reads_no_environment_variable() -> None:
    """Settings are read once, by bot/config.py, and reach the engine as arguments."""
    found = [line for path in ENGINE if _shown(path) not in ENVIRONMENT_EXCEPTIONS for line in _environment_reads(path)]
    assert not found, "index/ must take settings as arguments, not from the environment: " + "; ".join(found)


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(index) if not name.startswith("_")} - {"annotations"}
    modules = {name for name, value in vars(index).items() if type(value).__name__ == "module"}
    assert set(index.__all__) == public - modules
    # ruff's order (RUF022): constants, then classes, then functions, each alphabetical.
    assert index.__all__ == sorted(index.__all__, key=lambda name: (not name.isupper(), not name[0].isupper(), name))


def test_importing_the_engine_loads_no_model_runtime() -> None:
    code = "import sys, index.library; print(sorted({'torch', 'faiss', 'spacy', 'onnxruntime'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
