"""Point every Colab/Binder badge and notebook install cell at another repository (for forks),
or pin the notebooks' install cells to another release tag.

    python tools/retarget_repository.py OWNER/NAME          # a fork
    python tools/retarget_repository.py --ref v1.2.0        # a release: sets pyproject's version, pins the install cells

The repository is named in one place, ``[project.urls] Repository`` in pyproject.toml, and
the release in another, ``version``: Colab's install cell installs the helpers package from
the tag ``v<version>``, so a learner on Colab gets the helpers the notebooks were released
with, not whatever ``main`` holds that day. This script rewrites them there, in README.md, CITATION.cff
and every notebook, and tests/test_links.py checks that they all agree.
"""

import argparse
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r'^Repository = "https://github\.com/([^/"]+/[^/"]+)"$', re.M)
VERSION_LINE = re.compile(r'^version = "([^"]+)"$', re.M)
CITATION_VERSION = re.compile(r"^version: .*$", re.M)
RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")
# The ref after the repository in a pip git URL: ...going-deeper@v1.1.0 (none: the default branch)
PIP_REF = re.compile(r'(going-deeper-helpers @ git\+https://github\.com/[^/"@\s]+/[^/"@\s]+?)(?:@[^"\s]+)?(?=")')


def configured_repository() -> str:
    """OWNER/NAME from pyproject.toml."""
    return URL_LINE.search((ROOT / "pyproject.toml").read_text()).group(1)


def configured_ref() -> str:
    """The release tag the install cells pin: ``v`` + pyproject.toml's version."""
    return "v" + VERSION_LINE.search((ROOT / "pyproject.toml").read_text()).group(1)


def links(repository: str, ref: str | None = None) -> dict[str, str]:
    """How each kind of link names the repository (notebook paths follow the Colab prefix)."""
    return {
        "colab": f"https://colab.research.google.com/github/{repository}/blob/main/",
        "binder": f"https://mybinder.org/v2/gh/{repository}/main",
        "pip": f"going-deeper-helpers @ git+https://github.com/{repository}@{ref or configured_ref()}",
        "clone": f"https://github.com/{repository}",
    }


def retarget_text(text: str, old: str, new: str) -> str:
    # github.com/OWNER/NAME (clone, pip), github/OWNER/NAME (Colab), gh/OWNER/NAME (Binder)
    for prefix in ("github.com/", "colab.research.google.com/github/", "mybinder.org/v2/gh/"):
        text = text.replace(prefix + old, prefix + new)
    return text


def pin_text(text: str, ref: str) -> str:
    """Pin every helpers install (``%pip install "going-deeper-helpers @ git+..."``) in ``text`` to ``ref``."""
    return PIP_REF.sub(lambda match: f"{match.group(1)}@{ref}", text)


def retarget(new: str | None = None, ref: str | None = None) -> None:
    """Rename the repository to ``new`` (if given) and pin the install cells to ``ref`` (default: the version's tag)."""
    old = configured_repository()
    new = new or old
    ref = ref or configured_ref()
    if not RELEASE_TAG.fullmatch(ref):
        raise SystemExit(f"--ref {ref}: give a release tag, v + a version (v1.2.0)")
    pyproject = ROOT / "pyproject.toml"
    text = URL_LINE.sub(f'Repository = "https://github.com/{new}"', pyproject.read_text())
    text = VERSION_LINE.sub(f'version = "{ref[1:]}"', text)  # the tag releases pyproject's version
    pyproject.write_text(text)
    for name in ("README.md", "CITATION.cff"):
        (ROOT / name).write_text(retarget_text((ROOT / name).read_text(), old, new))
    citation = ROOT / "CITATION.cff"
    citation.write_text(CITATION_VERSION.sub(f"version: {ref[1:]}", citation.read_text()))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.source = pin_text(retarget_text(cell.source, old, new), ref)
        nbformat.write(nb, path)
    print(f"Retargeted {old} -> {new}, install cells pinned to @{ref}. Check with: pytest tests/test_links.py")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", nargs="?", help="OWNER/NAME on GitHub (default: keep the configured one)")
    parser.add_argument("--ref", help="release tag the install cells pin, vX.Y.Z (also sets pyproject's version); "
                                      "default: v + pyproject's version")
    args = parser.parse_args()
    retarget(args.repository, args.ref)
