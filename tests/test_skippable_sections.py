"""A presenter short of time skips the sections whose heading says *(optional ...)*: the rest must still run.

Each notebook is executed top to bottom without them (MobileNetV2, offline, as nbval runs it): a later
cell that needed a skipped one fails the test. The figures and checks of the rest are nbval's business.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from helpers import sections
from helpers.environment import HANDLE_ENV
from notebook_runner import printed, run_notebook
from sections import heading, is_optional as is_optional_heading, setup_and_sections

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def heading_level(cell) -> int | None:
    """1 for `# ...`, 2 for `## ...`; None for a cell that is not a markdown heading."""
    return (heading(cell) or (None,))[0]


def is_optional(cell) -> bool:
    head = heading(cell)
    return head is not None and is_optional_heading(head[1])


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


def defined_only_in_skipped_cells(cells, kept) -> list[tuple[str, set[str]]]:
    """(cell source, names) for each kept code cell that reads names which only skipped cells bound before it."""
    kept_ids = {id(c) for c in kept}
    everywhere, in_kept, orphans = set(), set(), []
    for cell in (c for c in cells if c.cell_type == "code"):
        analysed = sections.analyse("", cell.source)  # %magics and !shell made Python; what it binds and reads
        bound, read = analysed.binds, analysed.reads
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


def setup_and_section(cells, title: str) -> list:
    """The setup cells (above the first ``##`` heading) and the ``##`` section whose title starts with ``title``."""
    setup, parts = setup_and_sections(nbformat.v4.new_notebook(cells=cells))
    return setup + next(part.cells for part in parts if part.title.startswith(title))


@pytest.mark.notebooks
@pytest.mark.ci_leg("floors")
def test_the_tf_hub_section_steps_aside_without_the_module():
    """Offline without the TF Hub module, notebook 4's TF Hub section says so in one line and raises nothing.

    So a Run All goes on past it: the sections below use nothing it makes (the test above, without running).
    The section runs after the setup cells, from its start-here cell (what ``tests/test_start_here.py`` tests).
    """
    path = next(p for p in NOTEBOOKS if p.name.startswith("04"))
    nb, _ = run_notebook(path, env={HANDLE_ENV: ""},  # empty: the real handle, not offline
                         cells=lambda cells: setup_and_section(cells, "The same extractor from TF Hub"))
    assert "Skipping the TF Hub section" in "".join(printed(c) for c in nb.cells if c.cell_type == "code")
