"""A presenter short of time skips the sections whose heading says *(optional ...)*: the rest must still run.

Each notebook is executed top to bottom without them (MobileNetV2, offline, as nbval runs it): a later
cell that needed a skipped one fails the test. The figures and checks of the rest are nbval's business.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_marks_what_a_presenter_may_skip(path):
    optional = [c for c in nbformat.read(path, as_version=4).cells if is_optional(c)]
    assert optional, f"{path.name}: no heading says *(optional ...)*"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_without_its_optional_sections(path):
    nb, _ = run_notebook(path, cells=without_optional_sections)
    assert not any(is_optional(c) for c in nb.cells)


@pytest.mark.notebooks
def test_run_all_goes_past_tf_hub_without_the_module():
    """Offline without the TF Hub module, notebook 4's TF Hub section says so in one line and the rest runs."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("04"))
    nb, _ = run_notebook(path, env={"GOING_DEEPER_TFHUB_HANDLE": ""},  # empty: the real handle, not offline
                         cells=lambda cells: without_optional_sections(cells, keep=lambda h: "TF Hub" in h))
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Skipping the TF Hub section" in printed
    assert "Keras and the SVM agree on" in printed, "the final model, after the TF Hub section, did not run"
