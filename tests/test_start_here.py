"""Every main section of every notebook starts in a fresh kernel (issue 25): a presenter whose kernel died, or a
learner who joined late, runs the setup cells, then the section's "start here" cell, then the section.

The start-here cell calls ``helpers.sections.start_here``, which runs again only the cells above that make what
the section uses. The notebook test runs each section that way (one kernel per section, MobileNetV2, offline, on
the feature cache nbval has filled); the other tests check, without running anything, that each section that
needs one has its start-here cell, and how ``start_here`` picks the cells.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from helpers import sections
from notebook_runner import run_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
START_CALL = re.compile(r'start_here\("([^"]+)", "([^"]+)"\)')


def is_heading(cell) -> bool:
    return cell.cell_type == "markdown" and cell.source.startswith(sections.SECTION_PREFIX)


def split_sections(cells):
    """(setup cells, [(heading, the section's cells after its heading), ...]) of a notebook's cells."""
    setup, parts = [], []
    for cell in cells:
        if is_heading(cell):
            parts.append((cell.source.splitlines()[0], []))
        elif parts:
            parts[-1][1].append(cell)
        else:
            setup.append(cell)
    return setup, parts


def is_start_here(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(sections.LABEL)


SECTIONS = [(path, heading) for path in NOTEBOOKS
            for heading, cells in split_sections(nbformat.read(path, as_version=4).cells)[1]
            if any(c.cell_type == "code" for c in cells)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_section_that_needs_more_than_the_setup_opens_with_a_start_here_cell(path):
    analysed = sections.notebook_cells(path)
    set_up = set().union(*(c.binds for c in analysed if c.section == ""))
    _, parts = split_sections(nbformat.read(path, as_version=4).cells)
    for heading, cells in parts:
        title = heading[len(sections.SECTION_PREFIX):].strip()
        code = [c for c in cells if c.cell_type == "code"]
        has_code = any(c.section == title for c in analysed)  # (start-here cells aside)
        missing = sections.cells_to_rerun(analysed, title, set_up)[1] if has_code else set()
        starts = [c for c in code if is_start_here(c)]
        if not missing:
            assert not starts, f"{heading}: needs only the setup cells, so no start-here cell"
            continue
        assert starts and cells[0] is starts[0] and len(starts) == 1, \
            f"{heading}: uses {sorted(missing)} from above: its first cell should be one start-here cell"
        notebook, section = START_CALL.search(starts[0].source).groups()
        assert notebook == path.name
        assert sections.find_section(analysed, section) == title, f"{heading}: start_here names another section"


@pytest.mark.notebooks
@pytest.mark.ci_leg("readme")
@pytest.mark.parametrize("path, heading", SECTIONS, ids=[f"{p.name[:2]}-{h[3:40]}" for p, h in SECTIONS])
def test_section_starts_in_a_fresh_kernel(path, heading):
    """Setup cells, then the section (its start-here cell first), in a fresh kernel: no cell may fail."""
    def setup_and_section(cells):
        setup, parts = split_sections(cells)
        return setup + [cell for h, section in parts if h == heading for cell in section]

    nb, report = run_notebook(path, cells=setup_and_section)
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in ran), "a cell was not executed"
    print(f"{path.name} {heading}: {report['kernel_seconds']} s")


# How start_here picks the cells above: on small made-up notebooks.

def made_up(*cells: tuple[str, str]) -> list[sections.Cell]:
    return [sections.analyse(section, source) for section, source in cells]


def chosen_sources(cells, section, defined=frozenset()):
    chosen, _ = sections.cells_to_rerun(cells, section, set(defined))
    return [c.source for c in chosen]


def test_only_the_cells_that_make_what_the_section_uses_and_what_they_need():
    cells = made_up(("", "import numpy as np"),
                    ("A", "data = np.arange(10)"),
                    ("A", "print(data.mean())"),
                    ("B", "unused = 1"),
                    ("B", "doubled = 2 * data"),
                    ("C", "print(doubled)"))
    assert chosen_sources(cells, "C", defined={"np"}) == ["data = np.arange(10)", "doubled = 2 * data"]
    assert chosen_sources(cells, "C", defined={"np", "doubled"}) == []  # nothing missing: nothing to do


def test_cells_that_change_a_variable_in_place_are_run_again():
    cells = made_up(("A", "model = build()"),
                    ("A", "compile_for_training(model, 0.1)"),
                    ("A", "model.fit(x)"),
                    ("A", "model.trainable = False"),
                    ("A", "# extra code – a figure\nplots.show(model)"),
                    ("A", "print(model)"),
                    ("B", "model.predict(x)"))
    assert chosen_sources(cells, "B", defined={"build", "compile_for_training", "x", "plots"}) == [
        "model = build()", "compile_for_training(model, 0.1)", "model.fit(x)", "model.trainable = False"]


def test_loop_variables_and_function_locals_are_not_needed_from_above():
    cells = made_up(("A", "name = 'old'\nvalues = [1]"),
                    ("B", "for name in ['x']:\n    print(name)\ndef f(values):\n    return [v for v in values]"))
    assert sections.needs(cells, "B") == set()


def test_a_variable_assigned_from_itself_needs_the_cell_before():
    cells = made_up(("A", "total = 1"), ("A", "total = total + 1"), ("B", "print(total)"))
    assert chosen_sources(cells, "B") == ["total = 1", "total = total + 1"]


def test_a_section_is_named_by_the_start_of_its_heading():
    cells = made_up(("Export: files", "x = 1"), ("Exercise", "y = 2"))
    assert sections.find_section(cells, "Export") == "Export: files"
    with pytest.raises(ValueError, match="2 sections start with 'Ex'"):
        sections.find_section(cells, "Ex")
