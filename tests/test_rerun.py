"""Safe to run twice, safe to *Run All* on Colab, and every exercise solution executed (issue 24).

One kernel per notebook (MobileNetV2, offline, as nbval runs it), to keep CI time down:

1. a Colab-like *Run All*: a fake ``google.colab`` module on the kernel's path, imported first as Colab does,
   whose ``files.upload`` and ``drive.mount`` fail the run if any cell calls them (*Run All* must never wait
   for a file dialog or a Drive mount); the install cell's ``%pip`` is answered by a stand-in (no network);
   solution cells must only say how to run their solution, never print it;
2. then every cell again, in the same kernel, with ``GOING_DEEPER_RUN_SOLUTIONS=1``: no cell may raise (a
   ``del x`` that a second run trips on, a model trained from a state the first pass left), each check cell
   must print what it printed the first time, and every solution runs (so CI executes each one).
"""

from __future__ import annotations

import copy
import os
import textwrap
import uuid
from pathlib import Path

import nbformat
import pytest

from helpers import solutions
from helpers.environment import SOLUTIONS_ENV
from clean_notebooks import read_committed
from notebook_runner import is_check_cell, printed, run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
READY = "Solution ready: run "

FAKE_COLAB = '''
"""A stand-in for Colab's google.colab, for tests: nothing in a Run All may wait for a person."""


class _Refuse:
    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise AssertionError(f"Run All called google.colab.{self._module}.{name}(): it would wait for a person")
        return refuse


files = _Refuse("files")
drive = _Refuse("drive")
output = _Refuse("output")
'''

# The first cell of the Colab-like run: Colab imports google.colab before any cell runs, and %pip has no network here.
COLAB_START = """
import google.colab  # as on Colab: already imported when the first cell runs


def _pip_stand_in(line):
    print("(test: %pip " + line.split()[-1] + " not run: no network; helpers is installed)")


get_ipython().register_magic_function(_pip_stand_in, magic_kind="line", magic_name="pip")
"""

SECOND_PASS = f"""
import os as _os

_os.environ[{SOLUTIONS_ENV!r}] = "1"  # the second pass runs every solution
print("SECOND PASS")
"""


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and "@solution" in cell.source


def twice(cells):
    """Colab's start, the notebook, the switch to solutions, the notebook again (copies, with new ids)."""
    second = []
    for cell in cells:
        cell = copy.deepcopy(cell)
        cell.id = uuid.uuid4().hex[:8]
        second.append(cell)
    return [nbformat.v4.new_code_cell(COLAB_START), *cells, nbformat.v4.new_code_cell(SECOND_PASS), *second]


def test_solution_says_how_to_run_it(monkeypatch, capsys):
    monkeypatch.delenv(SOLUTIONS_ENV, raising=False)
    ran = []

    @solutions.solution
    def my_solution():
        ran.append(True)
        print("the answer")

    assert ran == [] and capsys.readouterr().out.startswith(READY + "my_solution()")
    my_solution()
    assert ran == [True] and capsys.readouterr().out == "the answer\n"


def test_solution_runs_when_asked(monkeypatch, capsys):
    monkeypatch.setenv(SOLUTIONS_ENV, "1")

    @solutions.solution
    def my_solution():
        print("the answer")

    assert capsys.readouterr().out == "the answer\n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_solution_is_offered_not_printed(path):
    """Without running anything: each hidden solution cell defines its solution through ``@solution``."""
    cells = nbformat.read(path, as_version=4).cells
    hidden = [c for c in cells if c.cell_type == "code" and c.metadata.get("jupyter", {}).get("source_hidden")]
    assert hidden, f"{path.name}: no hidden solution cell"
    for cell in hidden:
        assert cell.metadata.get("cellView") == "form", cell.source[:80]
        assert is_solution(cell), f"{path.name}: a hidden cell that is not an @solution:\n{cell.source[:200]}"
        assert "from helpers.solutions import solution" in cell.source


@pytest.mark.notebooks
@pytest.mark.ci_leg("floors")  # that leg runs no nbval: the first pass below compares the same check cells
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_run_all_then_every_cell_again(path, tmp_path, notebook_costs):
    fake = tmp_path / "fake_colab" / "google" / "colab"  # no google/__init__.py: a namespace package, as installed
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(textwrap.dedent(FAKE_COLAB))
    # the fake first, then this checkout's helpers (the venv may have another checkout's installed)
    python_path = os.pathsep.join(filter(None, [str(tmp_path / "fake_colab"), str(ROOT), os.environ.get("PYTHONPATH")]))
    nb, report = run_notebook(path, env={"PYTHONPATH": python_path, SOLUTIONS_ENV: ""},
                              cells=twice, timeout=1800)
    notebook_costs.append(f"{path.name}, Colab-like Run All then every cell again: "
                          f"{report['kernel_seconds']:.0f} s, peak {report['peak_rss_mb'] / 1024:.2f} GiB")

    code = [c for c in nb.cells if c.cell_type == "code"]
    middle = next(i for i, c in enumerate(code) if "SECOND PASS" in printed(c))
    first, second = code[1:middle], code[middle + 1:]
    assert len(first) == len(second)
    assert "Colab" in printed(first[0]), "the setup cell did not see Colab"

    solutions_first = [c for c in first if is_solution(c)]
    assert solutions_first, f"{path.name}: no solution ran"
    for cell in solutions_first:
        text = printed(cell)
        assert text.startswith(READY) and text.count("\n") == text.count(READY), (
            f"a solution printed on Run All:\n{text}")
        assert not [o for o in cell.outputs if o.output_type == "display_data"], "a solution drew on Run All"
    for cell in (c for c in second if is_solution(c)):
        assert READY not in printed(cell), f"the second pass did not run the solution:\n{cell.source[:200]}"

    checks = [(a, b) for a, b in zip(first, second) if is_check_cell(a)]
    assert checks, f"{path.name}: no check cell"
    committed = [c for c in read_committed(path).cells if is_check_cell(c)]
    assert [printed(a) for a, _ in checks] == [printed(c) for c in committed], (
        "a check cell printed something else than the committed notebook holds (what nbval compares)")
    for a, b in checks:
        assert printed(b) == printed(a), f"a check printed something else the second time:\n{a.source}"
