"""Executed copies of the notebooks for the presenter: every figure ready if a live cell is slow.

    python tools/presenter_copies.py [--backbone mobilenet_v2] [--notebook 02 ...] [--out outputs/presenter]

Runs each notebook of the course (1-4 by default; ``--notebook 05`` adds the optional fifth) top to
bottom in a fresh kernel, on this machine, with the backbone chosen (default: the course's setting,
``GOING_DEEPER_BACKBONE``, else Inception V3) and the course's own settings otherwise (offline folder,
cache), and writes, for each, into ``--out``:

- ``<notebook>.ipynb``: the executed notebook;
- ``<notebook>.html``: the same as a web page (figures embedded);
- ``<notebook>.slides.html``: a reveal.js deck (``tools/slides.py``), with reveal.js from ``vendor/``
  (fetched once with ``npm pack``), so it presents offline.

Each file is written to a temporary file beside it, then renamed: a failed run leaves the previous
copy as it was. Notebooks run one after the other (``tools/notebook_runner.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]
from notebook_runner import run_notebook  # noqa: E402
from slides import NOTEBOOK_FOLDER, build_deck, vendor, write_atomic  # noqa: E402

COURSE = ("01", "02", "03", "04")


def html_page(nb) -> str:
    from nbconvert import HTMLExporter

    return HTMLExporter(embed_images=True).from_notebook_node(nb, resources={"metadata": {"path": str(NOTEBOOK_FOLDER)}})[0]


def write_copies(nb, stem: str, out: Path) -> list[Path]:
    """The executed notebook ``nb`` as ``.ipynb``, ``.html`` and ``.slides.html`` in ``out`` (each atomically)."""
    paths = [out / f"{stem}.ipynb", out / f"{stem}.html"]
    write_atomic(paths[0], nbformat.writes(nb))
    write_atomic(paths[1], html_page(nb))
    paths.append(build_deck(nb, out / f"{stem}.slides.html"))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", help="inception_v3 or mobilenet_v2 (default: GOING_DEEPER_BACKBONE, else "
                        "the course's default)")
    parser.add_argument("--notebook", action="append", help="notebook number(s) (default: 01 02 03 04)")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "presenter"), help="where to write the copies")
    args = parser.parse_args()

    from helpers.environment import BACKBONE_ENV, HEADLESS_ENV

    out = Path(args.out)
    vendor(out / "vendor")  # first: a missing npm is said before minutes of running
    env = {HEADLESS_ENV: "1"}  # nobody watches this run: no TensorBoard server
    if args.backbone:
        env[BACKBONE_ENV] = args.backbone
    wanted = tuple(args.notebook or COURSE)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if not path.name.startswith(wanted):
            continue
        print(f"running {path.name} on {env.get(BACKBONE_ENV, os.environ.get(BACKBONE_ENV, 'the default backbone'))}"
              " ...", flush=True)
        nb, report = run_notebook(path, env=env)
        for written in write_copies(nb, path.stem, out):
            print(f"  {written} ({report['kernel_seconds']:.0f} s of kernel time)" if written.suffix == ".ipynb"
                  else f"  {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
