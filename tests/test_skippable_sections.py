"""A presenter short of time skips the sections whose heading says *(optional ...)*: the rest must still run.

Each notebook is executed top to bottom without them (MobileNetV2, offline, as nbval runs it): a later
cell that needed a skipped one fails the test. The figures and checks of the rest are nbval's business.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from helpers.environment import HANDLE_ENV
from notebook_runner import run_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
HEADING = re.compile(r"(#+) ")


def heading_level(cell) -> int | None:
    """1 for `# ...`, 2 for `## ...`; None for a cell that is not a markdown heading."""
    match = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
    return len(match.group(1)) if match else None


def is_optional(cell) -> bool:
    return heading_level(cell) is not None and "*(optional" in cell.source.splitlines()[0].lower()


def without_optional_sections(cells, keep=lambda heading: False):
    """The cells, minus each optional section: its heading up to the next heading of the same or a higher level.

    ``keep(heading text)``: true for the optional sections to keep.
    """
    kept, skipping_below = [], None
    for cell in cells:
        level = heading_level(cell)
        if skipping_below is not None and level is not None and level <= skipping_below:
            skipping_below = None
        if skipping_below is None and is_optional(cell) and not keep(cell.source):
            skipping_below = level
        if skipping_below is None:
            kept.append(cell)
    return kept


def test_without_optional_sections_cuts_to_the_next_heading_of_the_same_level():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("## A"), code("a"), md("## B *(optional, 5 s)*"), code("b"), md("### B.1"), code("b1"),
             md("## C"), code("c"), md("### C.1 *(optional)*"), code("c1"), md("## D")]
    assert [c.source for c in without_optional_sections(cells)] == ["## A", "a", "## C", "c", "## D"]
    assert [c.source for c in without_optional_sections(cells, keep=lambda h: "C.1" in h)][-4:] == [
        "c", "### C.1 *(optional)*", "c1", "## D"]


def bound_and_used(cell) -> tuple[set[str], set[str]]:
    """The names a code cell binds (assignments, imports, defs, arguments), and those it reads without binding."""
    tree = ast.parse(TransformerManager().transform_cell(cell.source))  # %magics and !shell made Python
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound, read - bound


def defined_only_in_skipped_cells(cells, kept) -> list[tuple[str, set[str]]]:
    """(cell source, names) for each kept code cell that reads names which only skipped cells bound before it."""
    kept_ids = {id(c) for c in kept}
    everywhere, in_kept, orphans = set(), set(), []
    for cell in (c for c in cells if c.cell_type == "code"):
        bound, read = bound_and_used(cell)
        if id(cell) in kept_ids:
            if missing := (read & everywhere) - in_kept:
                orphans.append((cell.source.splitlines()[0], missing))
            in_kept |= bound
        everywhere |= bound
    return orphans


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kept_cells_define_what_later_cells_use(path):
    """Without running anything: no kept cell reads a variable that only a skipped optional section defines."""
    cells = nbformat.read(path, as_version=4).cells
    assert defined_only_in_skipped_cells(cells, without_optional_sections(cells)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_marks_what_a_presenter_may_skip(path):
    optional = [c for c in nbformat.read(path, as_version=4).cells if is_optional(c)]
    assert optional, f"{path.name}: no heading says *(optional ...)*"


@pytest.mark.notebooks
@pytest.mark.ci_leg("floors")  # which cells a skipped section leaves behind does not depend on library versions
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_without_its_optional_sections(path):
    full = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    nb, _ = run_notebook(path, cells=without_optional_sections)
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert len(ran) < len(full), f"{path.name}: the optional sections hold no code, so skipping them tests nothing"
    assert all(c.execution_count is not None for c in ran), "a kept cell was not executed"


@pytest.mark.notebooks
@pytest.mark.ci_leg("floors")
def test_run_all_goes_past_tf_hub_without_the_module():
    """Offline without the TF Hub module, notebook 4's TF Hub section says so in one line and the rest runs."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("04"))
    nb, _ = run_notebook(path, env={HANDLE_ENV: ""},  # empty: the real handle, not offline
                         cells=lambda cells: without_optional_sections(cells, keep=lambda h: "TF Hub" in h))
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Skipping the TF Hub section" in printed
    assert "Keras and the SVM agree on" in printed, "the final model, after the TF Hub section, did not run"
