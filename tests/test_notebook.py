"""examples/chapter_4_2.ipynb: committed without outputs, built from tools/build_notebook.py,
bilingual, and executed here (a fresh kernel, the bundled sample, offline) so it never goes
stale: the chapter's numbers in its output, and an inline figure."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "chapter_4_2.ipynb"


def _builder() -> object:
    spec = importlib.util.spec_from_file_location(
        "build_notebook", ROOT / "tools" / "build_notebook.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_notebook_is_the_built_one_without_outputs() -> None:
    committed = nbformat.read(NOTEBOOK, as_version=4)
    built = _builder().build()  # type: ignore[attr-defined]
    assert [c.source for c in committed.cells] == [c.source for c in built.cells]
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_every_heading_is_chinese_first_then_english() -> None:
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        first = cell.source.splitlines()[0]
        assert re.search(r"[\u4e00-\u9fff]", first), first  # 中文 first
        assert re.search(r"[A-Za-z]{3,}", cell.source.split("\n\n")[-1]), cell.source  # English


def test_the_notebook_runs_and_prints_the_chapters_numbers() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    text = "\n".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    for number in ("0.0975", "0.5975", "0.510825457099338", "2.302584092994546", "(100, 784)"):
        assert number in text, (number, text)
    images = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, "the accuracy-vs-loss figure is not shown inline"
    assert sys.executable  # the kernel is this environment's (ipykernel installed here)
