"""Slides from the notebooks: every cell's slide type is the rules' (``tools/slides.py``), and the reveal.js
decks ``jupyter nbconvert --to slides`` builds present offline in headless Chromium.

The browser tests run where Playwright and a Chromium are installed (as ``test_browser_widgets.py``), and
need reveal.js, RequireJS, jQuery and MathJax once in ``outputs/presenter/vendor/`` (``tools/slides.py`` fetches
them with ``npm pack``; skipped without npm and without them). Every request that is not a local file is
blocked and recorded: a deck that needs the internet fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import slides
import support
from clean_notebooks import read_committed
from sections import heading

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
VENDOR = ROOT / "outputs" / "presenter" / "vendor"
SCREENSHOTS = ROOT / "outputs" / "presenter" / "screenshots"  # looked at by whoever changes the decks
TIMEOUT_MS = 60_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_cell_has_the_slide_type_the_rules_give(path):
    nb = read_committed(path)
    wrong = [(cell.get("id"), cell.metadata.get("slideshow", {}).get("slide_type"), kind)
             for cell, kind in zip(nb.cells, slides.slide_types(nb))
             if cell.metadata.get("slideshow", {}).get("slide_type") != kind]
    assert not wrong, (f"{path.name}: (cell id, slide type, the rules') {wrong[:5]}...: run "
                       "`python tools/clean_notebooks.py notebooks/*.ipynb`")


def test_the_rules():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    check = code("print(1)")
    check.metadata["tags"] = ["nbval-check-output", "claim:x"]
    nb = nbformat.v4.new_notebook(cells=[
        md("# Title"), code("setup_notebook()"), md("## A *(optional, 3 s)*"), md("Why."), code("x = 1"),
        code("# extra code – a figure\nplt.plot()"), md("Then."), code("# NBVAL_CHECK_OUTPUT\nprint(x)"), check,
        md("### A.1"), code("y"), md("Look.\n\n### A.2\n\nMore."), md("## Exercise\n\nDo it."), md("### Solution\n\nExpand the cell below."),
        code("#@title Solution { display-mode: \"form\" }\nanswer()")])
    assert slides.slide_types(nb) == ["slide", "skip", "slide", "-", "-", "fragment", "subslide", "skip", "skip",
                                      "subslide", "-", "subslide", "slide", "skip", "skip"]
    assert slides.assign(nb) and not slides.assign(nb)
    assert slides.headings_shown(nb) == ["Title", "A *(optional, 3 s)*", "Exercise"]


# --- the decks, in a browser ------------------------------------------------------------------------

def browser_page(playwright, blocked: list[str]):
    """A headless Chromium page that may load local files only; every other request is recorded in ``blocked``."""
    browser = playwright.chromium.launch(executable_path=support.chromium(), args=["--no-sandbox"])
    context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)

    def route(request_route):
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            blocked.append(f"{request_route.request.resource_type}: {request_route.request.url}")
            request_route.abort()

    context.route("**/*", route)
    return browser, context.new_page()


def open_deck(page, deck: Path, failed: list[str]) -> None:
    if not getattr(page, "_records_failures", False):  # one listener per page, whatever the number of decks
        page.on("requestfailed", lambda request: failed.append(request.url))
        page._records_failures = True
    page.goto(deck.as_uri())
    page.wait_for_selector(".reveal.ready", state="attached", timeout=TIMEOUT_MS)
    # the deck's reveal.js is a RequireJS module: the same instance, as window.Reveal for the checks
    page.evaluate("new Promise(done => require(['vendor/reveal.js/dist/reveal.js'], R => { window.Reveal = R; done(R.isReady()); }))")
    # MathJax typesets (and loads its fonts) after the deck is ready: wait, or the next deck's page load
    # cancels the font requests, which would read as missing files
    page.evaluate("new Promise(done => window.MathJax && MathJax.Hub ? MathJax.Hub.Queue(() => done(true)) : done(false))")


@pytest.fixture(scope="module")
def sync_api():
    if not support.chromium():
        pytest.skip(support.NO_CHROMIUM)
    return pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def vendor():
    try:
        return slides.vendor(VENDOR)
    except (SystemExit, subprocess.CalledProcessError) as error:
        pytest.skip(f"reveal.js is not in {VENDOR} and cannot be fetched: {error}")


def test_every_deck_opens_offline_with_one_slide_per_heading(sync_api, vendor, tmp_path):
    """Decks of the committed notebooks (no outputs: nothing executed), each opened with the network blocked."""
    blocked, failed = [], []
    with sync_api.sync_playwright() as playwright:
        browser, page = browser_page(playwright, blocked)
        for path in NOTEBOOKS:
            deck = vendor.parent / f".test-{path.stem}.slides.html"
            if path == NOTEBOOKS[0]:  # nbconvert's own command, as INSTRUCTORS.md gives it
                subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--config",
                                str(slides.NBCONVERT_CONFIG), str(path), "--output-dir", str(vendor.parent),
                                "--output", deck.name.removesuffix(".slides.html")],
                               cwd=ROOT, check=True, capture_output=True)
            else:
                slides.build_deck(nbformat.read(path, as_version=4), deck)
            try:
                open_deck(page, deck, failed)
                shown = page.eval_on_selector_all(
                    ".reveal .slides > section", "sections => sections.map(s => "
                    "(s.querySelector('h1, h2') || {textContent: ''}).textContent.replace('¶', '').trim())")
                expected = [h.replace("`", "").replace("*", "").strip()
                            for h in slides.headings_shown(nbformat.read(path, as_version=4))]
                assert [s.replace("`", "") for s in shown] == expected, path.name
                assert page.evaluate("Reveal.getTotalSlides()") >= len(expected)
            finally:
                deck.unlink()
        browser.close()
    scripts = [b for b in blocked if not b.startswith("image:")]  # a badge image in the title is allowed to fail
    assert not scripts, f"the decks asked the internet for {scripts}"
    assert not [url for url in failed if url.startswith("file:")], f"local files missing: {failed}"


@pytest.mark.notebooks
def test_a_figure_slide_shows_its_figure(sync_api, vendor):
    """Notebook 2 executed (MobileNetV2, offline, as nbval runs it), as a deck: a figure fragment shows its image."""
    from notebook_runner import run_notebook

    # conftest.py sets MPLBACKEND=Agg for the tests (no figures in their kernels): this one wants Jupyter's own
    nb, _ = run_notebook(ROOT / "notebooks" / "02_imagenet_inception.ipynb",
                         env={"MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    deck = slides.build_deck(nb, vendor.parent / ".test-02-executed.slides.html")
    blocked, failed = [], []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as playwright:
            browser, page = browser_page(playwright, blocked)
            open_deck(page, deck, failed)
            page.screenshot(path=str(SCREENSHOTS / "02-title.png"))
            # the first fragment holding a figure: go to its slide, reveal its fragments
            shown = page.evaluate("""() => {
                const figure = document.querySelector('.reveal .fragment .jp-OutputArea-output img');
                const slide = figure.closest('section');
                const {h, v} = Reveal.getIndices(slide);
                Reveal.slide(h, v, slide.querySelectorAll('.fragment').length);
        figure.scrollIntoView({block: 'center'});  // a tall slide scrolls
                return new Promise(done => setTimeout(() => {
                    const box = figure.getBoundingClientRect();
                    done({bottom: window.innerHeight, width: figure.naturalWidth, visible: getComputedStyle(figure.closest('.fragment')).opacity,
                          top: box.top, height: box.height});
                }, 1500));
            }""")
            page.screenshot(path=str(SCREENSHOTS / "02-figure.png"))
            browser.close()
    finally:
        deck.unlink()
    assert shown["width"] > 100 and float(shown["visible"]) == 1 and shown["height"] > 100, shown
    assert 0 <= shown["top"] <= shown["bottom"] - 200, f"not 200 pixels of the figure on screen: {shown}"
    assert not [b for b in blocked if not b.startswith("image:")], blocked
    assert not [url for url in failed if url.startswith("file:")], failed


def test_no_heading_is_left_without_a_slide():
    for path in NOTEBOOKS:
        nb = read_committed(path)
        for cell, kind in zip(nb.cells, slides.slide_types(nb)):
            if (head := heading(cell)) and head[0] <= 2:
                assert kind == "slide", (path.name, cell.get("id"))


def test_presenter_copies_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """tools/presenter_copies.py's files for one executed notebook; a failed export leaves the old copy."""
    import presenter_copies

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    figure = nbformat.v4.new_code_cell("# extra code – a figure\nplot()", execution_count=1, outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_markdown_cell("## A"),
                                         nbformat.v4.new_markdown_cell("Why."), figure])
    written = presenter_copies.write_copies(nb, "t", tmp_path)
    assert [p.name for p in written] == ["t.ipynb", "t.html", "t.slides.html"]
    assert png in written[1].read_text() and png in written[2].read_text()
    assert "vendor/reveal.js/dist/reveal.js" in written[2].read_text() and "unpkg.com" not in written[2].read_text()
    before = written[1].read_text()

    def broken(nb):
        raise RuntimeError("disk full")

    monkeypatch.setattr(presenter_copies, "html_page", broken)
    with pytest.raises(RuntimeError):
        presenter_copies.write_copies(nb, "t", tmp_path)
    assert written[1].read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "t.html", "t.ipynb", "t.slides.html"]
