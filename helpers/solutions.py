"""Exercise solutions that give nothing away on *Run All*: each one runs when the learner asks.

A solution cell (its code hidden in Jupyter and Colab) defines a function and marks it::

    @solution
    def small_dnn_solution():
        ...

Running the cell, as *Run All* does, only defines the function and prints one line: how to run it
(``small_dnn_solution()`` in a new cell). Why not just hide the cell? Hidden code does not hide its
output, so a solution run by *Run All* prints its answer under the exercise; and VS Code and
GitHub show hidden cells anyway.

``GOING_DEEPER_RUN_SOLUTIONS=1`` in the environment runs every solution as its cell runs: the test
suite sets it, so that every solution is executed on every CI run; an instructor can set it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from helpers.environment import SOLUTIONS_ENV

__all__ = ["SOLUTIONS_ENV", "run_solutions", "solution"]


def run_solutions() -> bool:
    """Whether solutions run as their cells run (``GOING_DEEPER_RUN_SOLUTIONS=1``), read at each call."""
    return os.environ.get(SOLUTIONS_ENV, "").strip() == "1"


def solution(function: Callable[[], object]) -> Callable[[], object]:
    """Mark ``function`` as an exercise's solution: say how to run it (or run it, when asked to).

    Returns ``function`` itself, so the learner calls it by its name.
    """
    if run_solutions():
        function()
    else:
        print(f"Solution ready: run {function.__name__}() in a new cell to see what it does "
              f"(expand this cell to read its code).")
    return function
