"""Slides from the notebooks themselves: slide metadata by rule, and reveal.js decks that work offline.

    python tools/slides.py --deck DIR NOTEBOOK...       # DIR/<name>.slides.html, reveal.js from DIR/vendor/
    jupyter nbconvert --to slides --config tools/slides_template/nbconvert_config.json NOTEBOOK --output-dir DIR
                                                        # the same with nbconvert's command (DIR/vendor/ needed)

The slide type of every cell (``metadata.slideshow.slide_type``, what RISE in JupyterLab and
``jupyter nbconvert --to slides`` read) is given by a rule, never set by hand, so a merge that adds
cells is fixed by cleaning the notebooks (``python tools/clean_notebooks.py notebooks/*.ipynb``, which pre-commit runs):

- a ``#`` or ``##`` heading starts a slide, a ``###`` heading a sub-slide (below it, in reveal.js);
- skipped (not shown): check cells (tag ``nbval-check-output`` or a ``# NBVAL_CHECK_OUTPUT`` line),
  setup plumbing (the code before the first ``##`` heading), and solutions (a ``### Solution``
  heading cell, and hidden solution cells: ``#@title Solution`` or a hidden source);
- a ``# extra code`` cell (a figure, mostly) is a fragment: revealed after its explanation (a deck
  shows its output only, once executed);
- a markdown paragraph after code starts a sub-slide: the next step of the story; so does a markdown
  cell with a ``###`` heading below its first line;
- everything else continues the slide it is on (``-``).

The decks load reveal.js 4.0.2 (the version nbconvert's template is written for), RequireJS, jQuery
and MathJax 2 from a local folder, fetched once with ``npm pack`` (Node.js's npm) and checked against pinned
hashes: a deck never fetches anything from a CDN, so it presents offline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_runner import is_check_cell  # noqa: E402
from sections import heading  # noqa: E402

SOLUTION_TITLE = re.compile(r"#@title\s+Solution", re.I)
# npm package -> (version, the tarball's sha1 as the registry publishes it: `npm view PACKAGE@VERSION dist.shasum`)
VENDOR = {
    "reveal.js": ("4.0.2", "2e5e9f8ed0fa239924b448f21d4238c5aa6e852e"),
    "requirejs": ("2.3.6", "e5093d9601c2829251258c0b9445d4d19fa9e7c9"),
    "mathjax": ("2.7.7", "22ff89550a7b1f5f06a037d13da5ff3c33e11ec4"),
    "jquery": ("3.5.1", "d7b4d08e1bfdb86ad2f1a3d039ea17304717abb5"),  # the template's scrolling of tall slides
}
# MathJax 2's CommonHTML output needs only the TeX fonts' woff files; its uncompressed sources are a copy.
PRUNE = {"mathjax": ("unpacked", "fonts/HTML-CSS/[!T]*", "fonts/HTML-CSS/TeX/[!w]*", "jax/output/[!C]*"),
         "jquery": ("src", "external", "dist/*.slim*")}
TEMPLATE_DIR = Path(__file__).resolve().parent / "slides_template"
NOTEBOOK_FOLDER = Path(__file__).resolve().parents[1] / "notebooks"  # where the markdown's image links start
NBCONVERT_CONFIG = TEMPLATE_DIR / "nbconvert_config.json"  # jupyter nbconvert --to slides --config <it>


# --- the rules --------------------------------------------------------------------------------------

def is_hidden_solution(cell) -> bool:
    first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
    return cell.cell_type == "code" and (bool(SOLUTION_TITLE.match(first))
                                         or cell.metadata.get("jupyter", {}).get("source_hidden", False))


def slide_types(nb) -> list[str]:
    """The slide type of each cell of ``nb``, by the rules in this module's docstring."""
    types, seen_section, in_solution, previous = [], False, False, None  # previous: the last shown cell's type
    for cell in nb.cells:
        head = heading(cell)
        if head:
            level, text = head
            seen_section = seen_section or level == 2
            in_solution = level >= 3 and text.strip().lower() == "solution"
            kind = "skip" if in_solution else {1: "slide", 2: "slide"}.get(level, "subslide")
        elif in_solution or is_check_cell(cell) or is_hidden_solution(cell):
            kind = "skip"
        elif cell.cell_type == "code":
            if not seen_section:
                kind = "skip"  # setup plumbing: the install/setup cell and the imports
            elif cell.source.lstrip().lower().startswith("# extra code"):
                kind = "fragment"
            else:
                kind = "-"
        elif cell.cell_type == "markdown":
            # a paragraph after code is the next step; so is a cell with a `###` heading below its first line
            inner = any(re.match(r"###+ ", line) for line in cell.source.splitlines())
            kind = "subslide" if previous == "code" or inner else "-"
        else:
            kind = "skip"  # raw cells
        types.append(kind)
        if kind != "skip":
            previous = cell.cell_type
    return types


def assign(nb) -> bool:
    """Set every cell's slide type by the rules; True if any changed."""
    changed = False
    for cell, kind in zip(nb.cells, slide_types(nb)):
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            changed = True
    return changed


def headings_shown(nb) -> list[str]:
    """The ``#`` and ``##`` headings: one horizontal slide each in the deck."""
    return [head[1] for cell in nb.cells if (head := heading(cell)) and head[0] <= 2]


# --- offline decks ------------------------------------------------------------------------------------

def vendor(folder: Path) -> Path:
    """reveal.js, RequireJS and MathJax in ``folder`` (fetched once with ``npm pack``, hash-checked); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for package, (version, sha1) in VENDOR.items():
        target = folder / package
        if (target / ".version").is_file() and (target / ".version").read_text() == version:
            continue
        if not shutil.which("npm"):
            raise SystemExit(f"{package} {version} is needed once for offline slides, and `npm` (Node.js) fetches it: "
                             "install Node.js, or unpack the npm package's tarball into " + str(target))
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            name = subprocess.run(["npm", "pack", f"{package}@{version}", "--silent"], cwd=scratch, check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
            tarball = Path(scratch) / name
            digest = hashlib.sha1(tarball.read_bytes()).hexdigest()
            if digest != sha1:
                raise SystemExit(f"{package}@{version}: sha1 {digest}, expected {sha1}: not the published package")
            with tarfile.open(tarball) as archive:
                if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+: no links or paths out of scratch
                    archive.extractall(scratch, filter="data")
                else:
                    archive.extractall(scratch)  # a package whose hash is pinned above
            for extra in PRUNE.get(package, ()):  # what the decks never load (MathJax: 71 MB -> about 10)
                for found in (Path(scratch) / "package").glob(extra):
                    shutil.rmtree(found) if found.is_dir() else found.unlink()
            (Path(scratch) / "package" / ".version").write_text(version)
            if target.exists():
                shutil.rmtree(target)
            os.replace(Path(scratch) / "package", target)
    return folder


def exporter(vendor_url: str = "vendor"):
    """nbconvert's slides exporter as ``NBCONVERT_CONFIG`` sets it, with every script taken from
    ``vendor_url`` (relative to the deck) instead of a CDN. From the repository's root, the command line
    does the same: ``jupyter nbconvert --to slides --config tools/slides_template/nbconvert_config.json``."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    settings = json.loads(NBCONVERT_CONFIG.read_text())["SlidesExporter"]
    settings = {key: value.replace("vendor/", f"{vendor_url}/", 1) if isinstance(value, str) else value
                for key, value in settings.items()}
    settings["extra_template_basedirs"] = [str(TEMPLATE_DIR)]
    return SlidesExporter(config=Config({"SlidesExporter": settings}), embed_images=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside ``path``, then replace it: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # as an ordinary file, not mkstemp's owner-only
        with os.fdopen(fd, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_deck(nb, path: Path, vendor_url: str = "vendor", folder: Path = NOTEBOOK_FOLDER) -> Path:
    """Write ``nb`` (a notebook node, executed or not) as a reveal.js deck at ``path``; slide types by the rules.

    Images the markdown links (``01_..._img/x.png``, relative to ``folder``) are embedded: the deck stands alone."""
    nb = nbformat.from_dict(nb)
    assign(nb)
    for cell in nb.cells:  # a figure's plotting code is noise on a slide: the deck shows the figure only
        if cell.cell_type == "code" and cell.source.lstrip().lower().startswith("# extra code") and cell.outputs:
            cell.metadata.setdefault("transient", {})["remove_source"] = True
    html, _ = exporter(vendor_url).from_notebook_node(nb, resources={"metadata": {"path": str(folder)}})
    write_atomic(path, html)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deck", metavar="DIR", required=True,
                        help="build DIR/<name>.slides.html decks (reveal.js in DIR/vendor)")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    vendor(Path(args.deck) / "vendor")
    for path in map(Path, args.notebooks):
        print(build_deck(nbformat.read(path, as_version=4), Path(args.deck) / f"{path.stem}.slides.html"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
