"""Point every Colab/Binder badge and notebook install cell at another repository (for forks).

    python tests/retarget_repository.py OWNER/NAME

The repository is named in one place, ``[project.urls] Repository`` in pyproject.toml;
this script rewrites it there, in README.md and in every notebook, and
tests/test_links.py checks that they all agree.
"""

import argparse
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r'^Repository = "https://github\.com/([^/"]+/[^/"]+)"$', re.M)


def configured_repository() -> str:
    """OWNER/NAME from pyproject.toml."""
    return URL_LINE.search((ROOT / "pyproject.toml").read_text()).group(1)


def links(repository: str) -> dict[str, str]:
    """How each kind of link names the repository (notebook paths follow the Colab prefix)."""
    return {
        "colab": f"https://colab.research.google.com/github/{repository}/blob/main/",
        "binder": f"https://mybinder.org/v2/gh/{repository}/main",
        "pip": f"going-deeper-helpers @ git+https://github.com/{repository}",
        "clone": f"https://github.com/{repository}",
    }


def retarget_text(text: str, old: str, new: str) -> str:
    # github.com/OWNER/NAME (clone, pip), github/OWNER/NAME (Colab), gh/OWNER/NAME (Binder)
    for prefix in ("github.com/", "colab.research.google.com/github/", "mybinder.org/v2/gh/"):
        text = text.replace(prefix + old, prefix + new)
    return text


def retarget(new: str) -> None:
    old = configured_repository()
    pyproject = ROOT / "pyproject.toml"
    pyproject.write_text(URL_LINE.sub(f'Repository = "https://github.com/{new}"', pyproject.read_text()))
    readme = ROOT / "README.md"
    readme.write_text(retarget_text(readme.read_text(), old, new))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.source = retarget_text(cell.source, old, new)
        nbformat.write(nb, path)
    print(f"Retargeted {old} -> {new}. Check with: pytest tests/test_links.py")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", help="OWNER/NAME on GitHub")
    retarget(parser.parse_args().repository)
