"""The notebooks as files: committed clean, set up alike, each with checked results and an exercise.

(nbval executes them; these tests check what a reader and a presenter rely on.)
"""

import copy
from pathlib import Path

import nbformat
import pytest

from clean_notebooks import clean, is_check_cell

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_the_course_has_its_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_committed_clean(notebook):
    cleaned = copy.deepcopy(notebook)
    clean(cleaned)
    assert nbformat.writes(cleaned) == nbformat.writes(notebook), "run tests/clean_notebooks.py on it"


def test_key_results_are_checked_by_nbval(notebook):
    checks = [c for c in code_cells(notebook) if is_check_cell(c)]
    assert checks, "no NBVAL_CHECK_OUTPUT cell: a regression in the key result would not fail CI"
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert printed.strip(), f"check cell has no stored output to compare:\n{cell.source}"
        assert "False" not in printed, f"a stored check is False:\n{printed}"


def test_starts_with_the_setup_cell(notebook):
    first = code_cells(notebook)[0].source
    assert '"google.colab" in sys.modules' in first and "setup_notebook()" in first


def test_ends_with_an_exercise_and_a_hidden_solution(notebook):
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert any("## Exercise" in m for m in markdown[-6:]), "no exercise near the end"
    hidden = any("<details>" in m for m in markdown) or any(
        c.metadata.get("jupyter", {}).get("source_hidden") for c in code_cells(notebook))
    assert hidden, "the exercise solution is not hidden"


def solution_cells(nb):
    """The code cells right after the markdown cell with the "### Solution" heading."""
    (heading,) = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "### Solution" in c.source]
    cells = []
    for cell in nb.cells[heading + 1:]:
        if cell.cell_type != "code":
            break
        cells.append(cell)
    return cells


def test_solutions_are_hidden_in_jupyterlab_and_colab(notebook):
    solutions = solution_cells(notebook)
    assert solutions, "no code cell after the '### Solution' heading"
    for cell in solutions:
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, "not hidden in JupyterLab"
        # Colab shows a cell with cellView "form" as its #@title only (with the code one click away)
        assert cell.metadata.get("cellView") == "form", "not hidden in Colab: metadata cellView must be 'form'"
        assert cell.source.startswith("#@title Solution"), "Colab's form view needs a first line '#@title Solution'"
    hidden = [c for c in code_cells(notebook) if c.metadata.get("jupyter", {}).get("source_hidden")]
    assert all(any(c is s for s in solutions) for c in hidden), "a hidden code cell that is not a solution"


def test_recap_right_before_the_exercise(notebook):
    (exercise,) = [i for i, c in enumerate(notebook.cells)
                   if c.cell_type == "markdown" and c.source.lstrip().startswith("## Exercise")]
    recap = notebook.cells[exercise - 1]
    assert recap.cell_type == "markdown" and recap.source.startswith("## Recap"), "no recap before the exercise"
    assert "**Next**" in recap.source, "the recap does not say what comes next"


TRAINING_NOTEBOOKS = {"01_tensorflow_basics_mnist.ipynb", "04_keras_fine_tuning.ipynb", "05_ants_vs_bees.ipynb"}


@pytest.mark.parametrize("name", sorted(TRAINING_NOTEBOOKS))
def test_training_notebooks_ask_colab_for_a_gpu_and_keep_it_when_cleaned(name):
    nb = nbformat.read(Path(__file__).parents[1] / "notebooks" / name, as_version=4)
    cleaned = copy.deepcopy(nb)
    clean(cleaned)
    for metadata in (nb.metadata, cleaned.metadata):
        assert metadata.get("accelerator") == "GPU"
        assert metadata.get("colab", {}).get("gpuType"), "Colab's runtime type: a GPU kind such as T4"


def test_heading_states_the_run_time_on_the_default_backbone(notebook):
    """Presenters plan with it (the figures come from tests/benchmark.py, see the README)."""
    heading = notebook.cells[0].source
    assert "Run time" in heading and "Inception V3" in heading, "the first cell should state the run time"
