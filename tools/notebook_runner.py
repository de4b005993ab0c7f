"""The one way the tests and tools run a notebook: a kernel with the course's environment, its peak memory.

Used by nbval's hooks (``conftest.py``: the environment, the peak memory after each notebook), the
default-backbone run (``tests/test_default_backbone.py``), the skip-section runs
(``tests/test_skippable_sections.py``), the Binder session (``tools/binder_session.py``) and the
benchmark (``tools/benchmark.py``)::

    nb, report = run_notebook(Path("notebooks/03_transfer_svm_cars.ipynb"), env={...})
    report["peak_rss_mb"], report["kernel_seconds"]

or, to run cells more than once in one kernel::

    with Kernel(path.parent, env={...}) as kernel:
        kernel.run(nb.cells)
        kernel.run(nb.cells)
        kernel.peak_gib()

or, to run sections one after another, each from an empty namespace: ``kernel.forget()`` between them.

``report`` also holds what ``results`` (an expression over the notebook's own variables) evaluates
to at the end. A cell that raises stops the run with nbclient's ``CellExecutionError``, which shows
the cell and its traceback. :func:`changed_checks` compares check cells' printed output with the
stored one, as nbval does for the MobileNetV2 runs.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime
from pathlib import Path

import nbformat

from helpers.environment import HEADLESS_ENV

ROOT = Path(__file__).resolve().parents[1]

# What every test or tool run of a notebook sets, unless the caller's environment says otherwise:
# figures are drawn, never shown; TensorFlow's C++ start-up lines stay out; nobody watches, so the
# notebooks start no TensorBoard server.
HEADLESS_DEFAULTS = {"MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", HEADLESS_ENV: "1"}

CHECK_TAG = "nbval-check-output"  # nbval's cell tag: compare this cell's stored output
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"  # nbval's older marker, a comment line of its own


def set_headless_defaults(environ=os.environ) -> None:
    """Put :data:`HEADLESS_DEFAULTS` into ``environ`` where unset (nbval's kernels inherit the test process's)."""
    for name, value in HEADLESS_DEFAULTS.items():
        environ.setdefault(name, value)


def kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a notebook kernel starts with: this process's, the headless defaults,
    this checkout's ``helpers`` first on ``PYTHONPATH``, then ``extra``."""
    env = {**HEADLESS_DEFAULTS, **os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **(extra or {})}


def peak_gib(pid: int) -> float | None:
    """A kernel's peak resident memory in GiB: Linux's VmHWM, the process's own high-water mark.

    Not getrusage's ru_maxrss: Linux carries that across fork + exec, so a kernel started by a big
    process (a benchmark that has just run Inception V3) would report its parent's size.
    None where /proc cannot tell (not Linux, or the process is gone).
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if kib is None else kib / 2**20


def printed(cell) -> str:
    """What a code cell printed (stdout)."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def is_check_cell(cell) -> bool:
    """A code cell whose output nbval compares: tagged ``nbval-check-output`` (or the old comment line)."""
    if cell.cell_type != "code":
        return False
    return CHECK_TAG in cell.get("metadata", {}).get("tags", []) or any(
        line.strip() == CHECK_MARK for line in cell.source.splitlines())


def changed_checks(stored, executed, skip_tag: str | None = None) -> list[str]:
    """The source of each check cell (outside ``skip_tag``) whose printed output differs from the stored one."""
    return [cell.source for cell, ran in zip(stored.cells, executed.cells)
            if is_check_cell(cell) and skip_tag not in cell.metadata.get("tags", [])
            and printed(ran) != printed(cell)]


FORGET = """\
%reset -f
import keras, matplotlib.pyplot
keras.backend.clear_session()
matplotlib.pyplot.close("all")
%reset -f"""


def notebook_client(nb, path: Path, timeout: int = 1200, **kwargs):
    """nbclient's client for ``nb``, run from the notebook's own folder as Jupyter does."""
    from nbclient import NotebookClient

    return NotebookClient(nb, timeout=timeout, kernel_name="python3",
                          resources={"metadata": {"path": str(Path(path).parent)}}, **kwargs)


def _timestamp(cell, key: str) -> datetime:
    return datetime.fromisoformat(cell.metadata["execution"][key].replace("Z", "+00:00"))


class Kernel:
    """A fresh kernel working in ``folder`` (a notebook's own folder), with the course's environment plus ``env``.

    ``run(cells)`` executes copies of ``cells`` in it and returns them, executed; it may be called
    more than once (the same kernel, as a learner's Run All twice). ``peak_gib()`` reads the kernel's
    peak memory so far. The kernel is shut down when the ``with`` block ends.
    """

    def __init__(self, folder: Path, env: dict[str, str] | None = None, timeout: int = 1200):
        self.nb = nbformat.v4.new_notebook()
        self.client = notebook_client(self.nb, Path(folder) / "notebook.ipynb", timeout=timeout)
        self._env = kernel_env(env)
        self._context = None

    def __enter__(self) -> Kernel:
        self._context = self.client.setup_kernel(env=self._env)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def run(self, cells) -> list:
        cells = [copy.deepcopy(cell) for cell in cells]
        start = len(self.nb.cells)
        self.nb.cells.extend(cells)
        for index, cell in enumerate(cells, start):
            self.client.execute_cell(cell, index)
        return cells

    def forget(self) -> None:
        """Empty the kernel's namespace, as a new kernel would have it, without starting one.

        Starting a kernel and importing TensorFlow again takes about 7 s; a section that starts from
        here finds no variable of the cells run before (what ``start_here`` must rebuild), and Keras
        and Matplotlib forget their models, layer names and figures. Imported modules stay loaded.
        """
        self.run([nbformat.v4.new_code_cell(FORGET)])

    def evaluate(self, expression: str):
        """What ``expression`` (over the notebook's variables) evaluates to in the kernel, through JSON."""
        cell = nbformat.v4.new_code_cell(
            f"import json as _json\nprint('NOTEBOOK_RESULTS', _json.dumps({expression}, default=float))")
        (ran,) = self.run([cell])
        return json.loads(printed(ran).split("NOTEBOOK_RESULTS", 1)[1])

    def peak_gib(self) -> float | None:
        return peak_gib(self.client.km.provisioner.pid)


def run_notebook(path: Path, env: dict[str, str] | None = None, results: str = "{}",
                 timeout: int = 1200, cells=None) -> tuple[nbformat.NotebookNode, dict]:
    """Execute ``path`` top to bottom in a fresh :class:`Kernel` with ``env`` added to the environment.

    ``cells``: a function from the notebook's cells to the cells to run (default: all of them).
    Returns the executed notebook, as the learner would see it, and a report: the kernel's peak
    memory (``peak_rss_mb``), the time from the first cell's start to the last one's end
    (``kernel_seconds``), and what ``results`` evaluated to.
    """
    nb = nbformat.read(path, as_version=4)
    selected = nb.cells if cells is None else cells(nb.cells)
    with Kernel(Path(path).parent, env, timeout) as kernel:
        nb.cells = kernel.run(selected)
        report = {}
        peak = kernel.peak_gib()  # before the results expression runs: the notebook's own peak
        if results != "{}":
            report.update(kernel.evaluate(results))
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    seconds = (_timestamp(code_cells[-1], "shell.execute_reply")
               - _timestamp(code_cells[0], "iopub.execute_input")).total_seconds()
    return nb, {"peak_rss_mb": None if peak is None else round(peak * 1024), **report,
                "kernel_seconds": round(seconds, 1)}
