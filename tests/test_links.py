"""Colab and Binder badges, and the notebooks' install cells, all name the configured repository."""

import re
import shutil
from pathlib import Path

import nbformat
import pytest
import retarget_repository as rr

NOTEBOOKS = sorted((rr.ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"https://(?:colab\.research\.google\.com/github|mybinder\.org/v2/gh|github\.com)/[^\s)\"']+")


def check_notebook(path: Path, repository: str, ref: str | None = None) -> None:
    expected = rr.links(repository, ref)
    nb = nbformat.read(path, as_version=4)
    first_markdown = next(c.source for c in nb.cells if c.cell_type == "markdown")
    assert expected["colab"] + f"notebooks/{path.name}" in first_markdown, f"{path.name}: Colab badge"
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    assert f'%pip install -q "{expected["pip"]}"' in setup, f"{path.name}: install cell"
    installs = [line for c in nb.cells for line in c.source.splitlines() if "going-deeper-helpers @" in line]
    assert installs == [f'    %pip install -q "{expected["pip"]}"'], f"{path.name}: one install line, pinned"
    for cell in nb.cells:  # no link anywhere names another repository
        for url in LINK.findall(cell.source):
            if "github.com/" in url and not url.startswith(expected["clone"]) and "/github/" not in url:
                continue  # links to other projects (Keras, TF...) are fine
            assert repository in url, f"{path.name}: {url}"
            if url.startswith("https://colab"):
                assert url == expected["colab"] + f"notebooks/{path.name}", f"{path.name}: {url}"


def check_readme(text: str, repository: str) -> None:
    expected = rr.links(repository)
    for notebook in NOTEBOOKS:
        assert expected["colab"] + f"notebooks/{notebook.name}" in text, f"README: Colab link for {notebook.name}"
    assert expected["binder"] in text, "README: Binder badge"
    assert f"git clone {expected['clone']}" in text, "README: clone command"


def test_everything_names_the_configured_repository():
    repository = rr.configured_repository()
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        check_notebook(path, repository)
    check_readme((rr.ROOT / "README.md").read_text(), repository)


def test_install_cells_pin_the_release_tag_of_pyprojects_version():
    """Colab installs the helpers the notebooks were released with: the tag v<version>, not main's head."""
    assert re.fullmatch(r"v\d+\.\d+\.\d+", rr.configured_ref())
    pins = set()
    for path in NOTEBOOKS:
        setup = next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        pins.update(re.findall(r'going-deeper-helpers @ git\+https://github\.com/[^"@]+@([^"]+)"', setup))
    assert pins == {rr.configured_ref()}, f"install cells pin {pins}, pyproject's version says {rr.configured_ref()}"


def test_retarget_rewrites_every_link(tmp_path, monkeypatch):
    fork = tmp_path / "fork"
    shutil.copytree(rr.ROOT / "notebooks", fork / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name in ("pyproject.toml", "README.md", "CITATION.cff"):
        shutil.copy(rr.ROOT / name, fork / name)
    original = rr.configured_repository()
    monkeypatch.setattr(rr, "ROOT", fork)
    rr.retarget("someone/their-fork")
    assert rr.configured_repository() == "someone/their-fork"
    for path in sorted((fork / "notebooks").glob("*.ipynb")):
        check_notebook(path, "someone/their-fork")
        assert original not in path.read_text(), f"{path.name} still names {original}"
    readme = (fork / "README.md").read_text()
    check_readme(readme, "someone/their-fork")
    assert original not in readme

    rr.retarget(ref="v9.8.7")  # a release: pins every install cell to the new tag, and sets the version
    assert rr.configured_ref() == "v9.8.7" and rr.configured_repository() == "someone/their-fork"
    citation = (fork / "CITATION.cff").read_text()
    assert "version: 9.8.7\n" in citation and "github.com/someone/their-fork" in citation
    for path in sorted((fork / "notebooks").glob("*.ipynb")):
        check_notebook(path, "someone/their-fork", "v9.8.7")
    with pytest.raises(SystemExit, match="release tag"):
        rr.retarget(ref="main")  # a moving branch is what the pin is there to avoid


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_in_the_documentation_resolve():
    """Every relative link in README.md, CONTRIBUTING.md and docs/*.md names a file that exists, and a heading in it."""
    pages = [rr.ROOT / "README.md", rr.ROOT / "CONTRIBUTING.md", *sorted((rr.ROOT / "docs").glob("*.md"))]
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: link to {target}: no such file"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                assert anchor in {github_anchor(h) for h in headings}, f"{page.name}: link to {target}: no such heading"
