"""Widgets in a real front end: JupyterLab in headless Chromium shows notebook 2's upload row, and a
photo chosen there reaches the kernel (twice, when chosen twice).

Opt-in: it runs where Playwright (``pip install playwright``) and a Chromium are installed
(``GOING_DEEPER_CHROMIUM`` names its executable, else ``chromium`` on PATH; Debian: ``apt-get
install chromium``), and is skipped elsewhere. It starts its own JupyterLab server on a free port,
with this checkout's ``helpers`` first on the kernels' path, and needs no model: the cells it runs
stand in for classification, so it takes about half a minute.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import ipywidgets
import nbformat
import pytest
import support

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = support.chromium()
pytestmark = pytest.mark.skipif(not CHROMIUM, reason=support.NO_CHROMIUM)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
if ipywidgets.__version__.startswith("7."):  # CI's colab leg: Colab's own front end, not JupyterLab
    pytest.skip("ipywidgets 7 is Colab's; JupyterLab 4 renders only ipywidgets 8 (requirements.txt asks for it)",
                allow_module_level=True)
NOTEBOOK_2 = ROOT / "notebooks" / "02_imagenet_inception.ipynb"
TIMEOUT_MS = 90_000

# Stand-ins for what notebook 2 defines before its upload cell: the cell itself runs unchanged.
STAND_INS = """\
from pathlib import Path
from urllib.parse import urlparse
import ipywidgets as widgets
from IPython.display import clear_output, display
from helpers import uploads

def image_from_bytes(data, name):
    return len(data)

def classify_photo(image, title):
    print(f"classified {title} ({image} bytes)")

def download_image(url):
    raise ValueError("no downloads in this test")
"""

# The wiring helpers/uploads.py documents, printing every photo it gets, to count them.
EVERY_CHOICE = """\
upload2 = widgets.FileUpload(accept="image/*", description="Again")
log = widgets.Output()

@uploads.show_errors_in(log)
def on_upload2(change):
    files = uploads.uploaded_files(change.new)
    uploads.clear(upload2)
    for name, data in files:
        print(f"got {name} ({len(data)} bytes)")

upload2.observe(on_upload2, names="value")
display(widgets.VBox([upload2, log]))
"""


def upload_cell() -> str:
    nb = nbformat.read(NOTEBOOK_2, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "widgets.FileUpload(" in c.source)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on a notebook of the cells above; yields the notebook's URL."""
    folder = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in
                                         (STAND_INS, upload_cell(), EVERY_CHOICE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "widgets.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(folder / ".jupyter"), "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".workspaces")}
    log = folder / "jupyterlab.log"  # a file, not a pipe: nobody reads a pipe while the tests run, and a full one blocks
    log_file = log.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         "--LabApp.expose_app_in_browser=True"],  # window.jupyterapp: run its commands, no menu clicking
        env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/widgets.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log_file.close()


@pytest.fixture(scope="module")
def page(jupyterlab):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(jupyterlab)
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        page.wait_for_function("window.jupyterapp && jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel")
        page.evaluate("jupyterapp.shell.currentWidget.sessionContext.ready"
                      ".then(() => jupyterapp.commands.execute('notebook:run-all-cells'))")
        yield page
        browser.close()


def choose(page, button_text: str, photo: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click(f".widget-upload:has-text('{button_text}')")
    chooser.value.set_files(str(photo))


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("photos") / "car.jpg"
    Image.new("RGB", (32, 24), (200, 30, 30)).save(path)
    return path


def test_notebook_2s_upload_row_renders_and_classifies_a_chosen_photo(page, photo):
    page.wait_for_selector(".widget-upload:has-text('Upload photo')")
    page.wait_for_selector("input[placeholder^='https://']")
    page.wait_for_selector("button:has-text('Classify URL')")
    assert "javascript error" not in page.content().lower(), "a widget failed to render"
    choose(page, "Upload photo", photo)
    page.wait_for_selector(f".jp-OutputArea-output:has-text('classified car.jpg ({photo.stat().st_size} bytes)')")


def test_the_same_photo_chosen_twice_arrives_twice(page, photo):
    line = f"got car.jpg ({photo.stat().st_size} bytes)"
    page.wait_for_selector(".widget-upload:has-text('Again')")
    choose(page, "Again", photo)
    page.wait_for_selector(f".jp-OutputArea-output:has-text('{line}')")
    choose(page, "Again", photo)
    page.wait_for_function("line => document.body.innerText.split(line).length - 1 >= 2", arg=line)
