"""Run a notebook top to bottom in a fresh kernel and report what it cost.

Shared by the benchmark (``tools/benchmark.py``) and the default-backbone test
(``tests/test_default_backbone.py``):

    nb, report = run_notebook(Path("notebooks/03_transfer_svm_cars.ipynb"), env={...})
    report["peak_rss_mb"], report["kernel_seconds"]

``report`` also holds what ``results`` (an expression over the notebook's own variables)
evaluates to at the end. A cell that raises stops the run with nbclient's
``CellExecutionError``, which shows the cell and its traceback.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# Appended to the notebook in memory: the kernel's peak memory and the requested results.
# The peak is VmHWM, the high-water mark of the kernel's own memory. Not getrusage's ru_maxrss: Linux
# carries that across fork + exec, so a kernel started by a big process (a benchmark that has just
# run Inception V3) would report its parent's size.
REPORT_CELL = """
import json as _json, re as _re, resource as _resource, sys as _sys
try:
    with open("/proc/self/status") as _status:
        _peak_kb = int(_re.search(r"VmHWM:\\s+(\\d+) kB", _status.read()).group(1))
except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
    _peak_kb = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / (1024 if _sys.platform == "darwin" else 1)
_report = {"peak_rss_mb": round(_peak_kb / 1024)}
_report.update(%s)
print("NOTEBOOK_REPORT", _json.dumps(_report, default=float))
"""


def _timestamp(cell, key: str) -> datetime:
    return datetime.fromisoformat(cell.metadata["execution"][key].replace("Z", "+00:00"))


def run_notebook(path: Path, env: dict[str, str] | None = None, results: str = "{}",
                 timeout: int = 1200, cells=None) -> tuple[nbformat.NotebookNode, dict]:
    """Execute ``path`` (from its own folder, as Jupyter does) with ``env`` added to the environment.

    ``cells``: a function from the notebook's cells to the cells to run (default: all of them).
    """
    nb = nbformat.read(path, as_version=4)
    if cells is not None:
        nb.cells = cells(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL % results))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, **(env or {})})
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    report_text = "".join(o.get("text", "") for o in code_cells[-1].outputs)
    report = json.loads(report_text.split("NOTEBOOK_REPORT", 1)[1])
    # from the first cell's start to the end of the last notebook cell (not the report)
    seconds = (_timestamp(code_cells[-2], "shell.execute_reply")
               - _timestamp(code_cells[0], "iopub.execute_input")).total_seconds()
    report["kernel_seconds"] = round(seconds, 1)
    nb.cells.pop()  # the executed notebook, as the learner would see it
    return nb, report
