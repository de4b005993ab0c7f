"""The offline workshop bundle, end to end without internet.

A local HTTP server on 127.0.0.1 serves ../shared/assets as a mirror of the canonical
URLs; the bundle is downloaded from it, verified, and a notebook then runs from the
bundle alone with downloads forbidden.
"""

import functools
import http.server
import os
import re
import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import tensorflow_hub

from helpers import assets, backbones, bundle, hub
from test_hub import fake_module

SHARED = Path(os.environ.get(assets.OFFLINE_ENV, "")) if os.environ.get(assets.OFFLINE_ENV) else None
pytestmark = pytest.mark.skipif(SHARED is None, reason="needs the offline asset folder to serve as a mirror")
NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "03_transfer_svm_cars.ipynb"


def published_sha256() -> dict[str, str]:
    """sha256 of each mirrored file, as published in the mirror's README (not computed here)."""
    text = (SHARED / "README.md").read_text()
    return {path: f"sha256:{digest}" for digest, path in re.findall(r"^([0-9a-f]{64})  \./(\S+)$", text, re.M)}


@pytest.fixture(scope="module")
def mirror():
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SHARED)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def mirrored_registry(mirror, monkeypatch):
    """The course registry, with every URL pointing at the local mirror.

    Photos keep their canonical hashes (the mirror holds the same bytes); the
    derived weights, class index and MNIST copies are checked against the hashes
    the mirror publishes.
    """
    published = published_sha256()
    table = {
        path: assets.Asset(path, asset.known_hash if path.startswith("images/") else published.get(path),
                           f"{mirror}/{path}")
        for path, asset in assets.registry().items()
    }
    monkeypatch.setattr(assets, "registry", lambda: table)
    monkeypatch.delenv(assets.NO_DOWNLOAD_ENV, raising=False)
    return table


def test_bundle_downloads_verifies_and_reports(mirrored_registry, tmp_path, capsys, monkeypatch):
    target = tmp_path / "usb"
    resolved = []

    def fake_resolve(handle):  # tfhub.dev cannot be reached here: check the wiring instead
        module = hub.module_folder(Path(os.environ["TFHUB_CACHE_DIR"]).parent, handle)
        fake_module(module)
        resolved.append(handle)
        return str(module)

    monkeypatch.setenv(hub.HANDLE_ENV, "https://example.org/an/override/1")  # the bundle ignores it
    monkeypatch.setattr(tensorflow_hub, "resolve", fake_resolve)
    bundle.main([str(target), "--backbone", "mobilenet_v2"])
    table = capsys.readouterr().out
    tfhub_handle = backbones.get_backbone("mobilenet_v2").tfhub_handle
    assert resolved == [tfhub_handle] and (hub.module_folder(target, tfhub_handle) / "saved_model.pb").is_file()
    assert "TF Hub: https://tfhub.dev/google/imagenet/mobilenet_v2" in table
    expected = bundle.bundle_paths(["mobilenet_v2"])
    assert len(expected) == 37 + 1 + 1 + 2  # photos, MNIST, class index, two weight files
    for path in expected:
        assert (target / path).is_file()
        assert path in table
    assert not [p for p in expected if "inception" in p]
    assert f"{len(expected) + 1} files" in table and f"GOING_DEEPER_ASSETS={target}" in table  # + TF Hub
    rows = bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    assert all(row["verified"] == "sha256" for row in rows)


def test_course_runs_from_the_bundle_with_no_download(mirrored_registry, tmp_path, monkeypatch):
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel inherits this environment: the bundle is the only source, downloads are errors
    monkeypatch.setenv(assets.OFFLINE_ENV, str(target))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("GOING_DEEPER_BACKBONE", "mobilenet_v2")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert str(target) in printed  # the setup line reports the bundle as the offline folder


def test_damaged_bundle_file_is_fetched_again(mirrored_registry, tmp_path):
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    photo = target / "images" / "samples" / "coral-cat.bmp"
    photo.write_bytes(b"damaged on the USB stick")
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    assert photo.read_bytes() == (SHARED / "images" / "samples" / "coral-cat.bmp").read_bytes()
