"""Every main section of every notebook starts in a fresh kernel (issue 25): a presenter whose kernel died, or a
learner who joined late, runs the setup cells, then the section's "start here" cell, then the section.

The start-here cell calls ``helpers.sections.start_here``, which runs again only the cells above that make what
the section uses. The notebook test runs each section that way (MobileNetV2, offline; one kernel per notebook, its
namespace emptied before each section); the other tests check, without running anything, that each section that
needs one has its start-here cell, and how ``start_here`` picks the cells.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from helpers import sections
from notebook_runner import Kernel
from sections import is_start_here, setup_and_sections

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
START_CALL = re.compile(r'start_here\("([^"]+)", "([^"]+)"\)')


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_section_that_needs_more_than_the_setup_opens_with_a_start_here_cell(path):
    analysed = sections.notebook_cells(path)
    set_up = set().union(*(c.binds for c in analysed if c.section == ""))
    for part in setup_and_sections(nbformat.read(path, as_version=4))[1]:
        code = [c for c in part.cells if c.cell_type == "code"]
        has_code = any(c.section == part.heading for c in analysed)  # (start-here cells aside)
        missing = sections.cells_to_rerun(analysed, part.heading, set_up)[1] if has_code else set()
        starts = [c for c in code if is_start_here(c)]
        if not missing:
            assert not starts, f"{part.heading}: needs only the setup cells, so no start-here cell"
            continue
        assert starts and part.cells[1] is starts[0] and len(starts) == 1, \
            f"{part.heading}: uses {sorted(missing)} from above: its first cell should be one start-here cell"
        notebook, section = START_CALL.search(starts[0].source).groups()
        assert notebook == path.name
        assert sections.find_section(analysed, section) == part.heading, f"{part.heading}: start_here names another section"


@pytest.mark.notebooks
@pytest.mark.ci_leg("readme")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_section_starts_from_an_empty_kernel(path, notebook_costs):
    """Each section with code: the setup cells, then the section (its start-here cell first), from an empty namespace.

    One kernel per notebook, emptied before each section (``Kernel.forget``): what a section needs from above
    is variables, and a new kernel per section would add 7 s of start-up to each of 53 sections. A section
    that fails is reported, and the next one still runs.
    """
    setup, parts = setup_and_sections(nbformat.read(path, as_version=4))
    failed, seconds = [], []
    with Kernel(path.parent) as kernel:
        for part in (p for p in parts if any(c.cell_type == "code" for c in p.cells)):
            kernel.forget()
            start = time.perf_counter()
            try:
                kernel.run(setup + part.cells)
            except CellExecutionError as error:
                failed.append(f"{part.heading}:\n{str(error)[-2000:]}")
            seconds.append(f"{part.title[:25]} {time.perf_counter() - start:.0f} s")
    notebook_costs.append(f"{path.name}, each section from an empty kernel: {'; '.join(seconds)}")
    assert not failed, "\n\n".join(failed)


def test_a_forgotten_kernel_has_none_of_the_variables_before(tmp_path):
    """What the section runs rely on: after ``forget``, a name from before is a NameError, as in a new kernel."""
    new_cell = nbformat.v4.new_code_cell
    with Kernel(tmp_path, timeout=120) as kernel:
        kernel.run([new_cell("import numpy as np\nphotos = np.zeros(3)")])
        kernel.forget()
        with pytest.raises(CellExecutionError, match="NameError"):
            kernel.run([new_cell("print(photos)")])
        (ran,) = kernel.run([new_cell("print(sorted(n for n in dir() if not n.startswith('_')))")])
    assert "'np'" not in ran.outputs[0]["text"]


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
