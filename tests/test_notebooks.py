"""The notebooks as files: committed clean, set up alike, each with checked results and an exercise.

(nbval executes them; these tests check what a reader and a presenter rely on.) They read each
notebook as committed (``clean_notebooks.read_committed``): the outputs JupyterLab autosaves into
a learner's copy are not what the course ships.
"""

import copy
from pathlib import Path

import nbformat
import pytest

from clean_notebooks import clean, read_committed
from notebook_runner import is_check_cell

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_the_course_has_its_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return read_committed(request.param)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_committed_clean(notebook):
    cleaned = copy.deepcopy(notebook)
    clean(cleaned)
    assert nbformat.writes(cleaned) == nbformat.writes(notebook), "run tools/clean_notebooks.py on it"


def test_key_results_are_checked_by_nbval(notebook):
    checks = [c for c in code_cells(notebook) if is_check_cell(c)]
    assert checks, "no check cell (tag nbval-check-output): a regression in the key result would not fail CI"
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
    """The exercises' solution cells: the code cells whose first line is Colab's "#@title Solution..." form title."""
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("#@title Solution")]


def test_solutions_are_hidden_in_jupyterlab_and_colab(notebook):
    solutions = solution_cells(notebook)
    assert solutions, "no solution cell (a code cell starting with '#@title Solution')"
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
    nb = read_committed(Path(__file__).parents[1] / "notebooks" / name)
    cleaned = copy.deepcopy(nb)
    clean(cleaned)
    for metadata in (nb.metadata, cleaned.metadata):
        assert metadata.get("accelerator") == "GPU"
        assert metadata.get("colab", {}).get("gpuType"), "Colab's runtime type: a GPU kind such as T4"


def test_heading_states_the_run_time_on_the_default_backbone(notebook):
    """Presenters plan with it (the figures come from tools/benchmark.py, see docs/benchmarks.md)."""
    heading = notebook.cells[0].source
    assert "Run time" in heading and "Inception V3" in heading, "the first cell should state the run time"


def test_a_learners_autosaved_outputs_are_not_what_is_tested(tmp_path):
    """JupyterLab autosaves outputs into the notebook: the tests read the committed notebook instead."""
    import shutil
    import subprocess

    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    path = course / "notebooks" / NOTEBOOKS[0].name
    shutil.copy(NOTEBOOKS[0], path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(course)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=course, check=True)
    subprocess.run([*git, "commit", "-qm", "course"], cwd=course, check=True)
    autosaved = nbformat.read(path, as_version=4)
    cell = next(c for c in code_cells(autosaved) if not is_check_cell(c))
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a learner's run\n")]
    cell.execution_count = 7
    nbformat.write(autosaved, path)

    committed = read_committed(path)
    cleaned = copy.deepcopy(committed)
    clean(cleaned)
    assert nbformat.writes(cleaned) == nbformat.writes(committed), "the committed notebook is clean"
    assert "a learner's run" not in nbformat.writes(committed)
    (course / "notebooks" / "new.ipynb").write_text(nbformat.writes(autosaved))  # not committed: read from disk
    assert "a learner's run" in nbformat.writes(read_committed(course / "notebooks" / "new.ipynb"))


def test_the_pre_commit_hook_cleans_every_notebook():
    import re

    import yaml

    config = yaml.safe_load((Path(__file__).parents[1] / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in config["repos"] for h in repo["hooks"] if h["id"] == "clean-notebooks"]
    assert hook["entry"] == "python tools/clean_notebooks.py"
    assert all(re.search(hook["files"], f"notebooks/{path.name}") for path in NOTEBOOKS)
