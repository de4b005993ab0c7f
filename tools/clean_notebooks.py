"""Strip notebooks for committing: no outputs (except check cells'), no counts.

    python tools/clean_notebooks.py notebooks/*.ipynb          # clean in place
    python tools/clean_notebooks.py --check notebooks/*.ipynb  # exit 1 if any is not clean

Check cells keep their plain-text output: that is what nbval compares on every test run (the
notebook's key results). A check cell carries the cell tag ``nbval-check-output`` (nbval's own
marker, in the metadata, so the learner's code shows no test scaffolding) and one ``claim:<id>`` tag
per claim it checks (``tests/test_claims.py``). nbval's older marker, a ``# NBVAL_CHECK_OUTPUT``
comment line, is still recognised.
Every cell's slide type is set by the rules of ``tools/slides.py`` (RISE and nbconvert's slides read it).
"""

import argparse
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_runner import is_check_cell  # noqa: E402
from slides import assign as assign_slide_types  # noqa: E402

CLAIM_TAG_PREFIX = "claim:"  # claim:<id>, one tag per claim the check cell prints


def claim_ids(cell) -> list[str]:
    """The claims a check cell checks, from its ``claim:<id>`` tags, in order."""
    return [tag[len(CLAIM_TAG_PREFIX):] for tag in cell.get("metadata", {}).get("tags", [])
            if tag.startswith(CLAIM_TAG_PREFIX)]


def clean(nb) -> None:
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type != "code":
            continue
        if is_check_cell(cell):
            # keep only the printed text (nbval compares it; rich outputs are noise) and an
            # execution count: nbval rejects stored outputs of a cell marked as never run
            cell.outputs = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
            cell.execution_count = 1
        else:
            cell.outputs = []
            cell.execution_count = None
    assign_slide_types(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata.get("language_info", {}).pop("version", None)


def read_committed(path: str | Path):
    """The notebook as committed (``git show HEAD:path``) in a git checkout, else as it is on disk.

    JupyterLab autosaves outputs into the notebooks while a learner works through the course;
    the tests of the notebook files check what the course ships, not that copy. A notebook
    that is not committed yet (or a copy of the course without git) is read from disk.
    """
    path = Path(path)
    try:
        committed = subprocess.run(["git", "show", f"HEAD:./{path.name}"], cwd=path.parent, capture_output=True,
                                   check=True, encoding="utf-8").stdout
    except (OSError, subprocess.CalledProcessError):  # no git, not a checkout, or not committed
        return nbformat.read(path, as_version=4)
    return nbformat.reads(committed, as_version=4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    dirty = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        clean(nb)
        if nbformat.writes(nb) != before:
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    if args.check and dirty:
        print("Not clean (run tools/clean_notebooks.py):", *dirty, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
