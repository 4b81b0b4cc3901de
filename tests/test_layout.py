"""The package's layers, read from the source with `ast` (nothing is imported).

library  losskit/* (losses, primitives, the Array API core, kernels/, datasets/, scoring, ...)
chapter  losskit/chapter/ (the book's experiment), built on the library
cli      losskit/cli/ (one module per command), built on both

A layer imports only from the layers below it. Inside the library, the code that
computes (the Array API core and the kernels) never imports the validation module: it
receives inputs that are already valid and never words an error itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "losskit"

# Old import paths kept for one release: they only forward to losskit.chapter.
FORWARDERS = {"training.py", "network.py"}
COMPUTE = ["_core.py", "_numerics.py", "kernels/dispatch.py", "kernels/_numba.py"]
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def layer(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    if parts == ("__main__.py",):  # `python -m losskit` is the command line
        return "cli"
    return parts[0] if parts[0] in ("chapter", "cli") else "library"


def imported(path: Path) -> set[str]:
    """Every losskit module a file imports, anywhere in it (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "losskit" or n.startswith("losskit.")}


def test_the_three_layers_exist() -> None:
    assert {layer(p) for p in modules()} == {"library", "chapter", "cli"}
    assert (SRC / "kernels" / "dispatch.py").is_file()


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_only_run_down_the_layers(path: Path) -> None:
    above = {"library": ("losskit.chapter", "losskit.cli"), "chapter": ("losskit.cli",)}
    forbidden = above.get(layer(path), ())
    if path.relative_to(SRC).as_posix() in FORWARDERS:
        forbidden = ("losskit.cli",)
    bad = sorted(n for n in imported(path) if n.startswith(forbidden))
    assert not bad, f"{path.relative_to(SRC)} ({layer(path)}) imports {bad}"


def module_path(name: str) -> Path | None:
    """The file of a losskit module name (None for a name that is not a module of ours)."""
    parts = name.split(".")[1:]
    if not parts:
        return SRC / "__init__.py"
    for candidate in (SRC.joinpath(*parts).with_suffix(".py"), SRC.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def reachable(path: Path) -> set[str]:
    """Every losskit module `path` imports, directly or through the modules it imports."""
    seen: set[str] = set()
    todo = [path]
    while todo:
        for name in imported(todo.pop()):
            found = module_path(name)
            if found is not None and name not in seen:
                seen.add(name)
                todo.append(found)
    return seen


@pytest.mark.parametrize("name", COMPUTE)
def test_the_computing_code_never_validates(name: str) -> None:
    bad = sorted(
        n
        for n in reachable(SRC / name)
        if n.startswith(("losskit._validate", "losskit.logit_losses", "losskit.probability"))
        or n in ("losskit.primitives",)
    )
    assert not bad, f"{name} reaches {bad}"


def test_the_detector_sees_imports_inside_functions() -> None:
    # The rules above would pass vacuously if lazy or indirect imports went unseen.
    assert "losskit.chapter.training" in imported(SRC / "cli" / "train.py")
    assert "losskit.kernels._numba" in imported(SRC / "kernels" / "dispatch.py")
    assert "losskit._validate" in reachable(SRC / "logit_losses.py")
    assert "losskit._array" in reachable(SRC / "_core.py")


def test_no_function_is_longer_than_60_lines_without_a_reason() -> None:
    long = []
    for path in modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                above = lines[first - 2] if first >= 2 else ""
                if size > MAX_FUNCTION_LINES and "# long:" not in above:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({size})")
    assert not long, "functions over 60 lines need a '# long: why' comment above: " + str(long)


@pytest.mark.parametrize("old", ["training", "network"])
def test_old_import_paths_forward_with_a_deprecation_warning(old: str) -> None:
    import importlib

    module = importlib.import_module(f"losskit.{old}")
    moved = importlib.import_module(f"losskit.chapter.{old}")
    name = "TrainConfig" if old == "training" else "TwoLayerNet"
    with pytest.warns(DeprecationWarning, match=f"losskit.chapter.{old}"):
        assert getattr(module, name) is getattr(moved, name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
