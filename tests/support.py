"""What several test modules share: a local HTTP server, a mirror of the asset folder, TF Hub stand-ins,
synthetic features, CI's Pythons.

A test module imports from here, never from another test module (whose tests pytest would then
collect, and whose fixtures and module-level set-up would run, twice).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np

from helpers import assets, hub

CI_PYTHONS = {"3.10", "3.11", "3.13"}  # the legs of .ci/run

# The test suite's own switches (the course's are in helpers.environment)
CHROMIUM_ENV = "GOING_DEEPER_CHROMIUM"  # the headless browser of the browser tests, else chromium on PATH
BINDER_SESSION_ENV = "GOING_DEEPER_BINDER_SESSION"  # 1: replay a Binder session (runs four notebooks)
NO_CHROMIUM = f"no Chromium (set {CHROMIUM_ENV} or install chromium)"


def chromium() -> str | None:
    """The Chromium executable for the browser tests, or None."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")


# --- a real HTTP server on 127.0.0.1 ----------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    """A base for the test servers' handlers: ``send`` one whole response, and log nothing."""

    def send(self, status, body, kind="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(handler):
    """A real HTTP server on 127.0.0.1 for the time of the block; yields its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the offline asset folder, served as a mirror of the canonical URLs ----------------------------

def serve_folder(folder: Path):
    """A real HTTP server on 127.0.0.1 serving ``folder``'s files, for the time of the block; yields its URL."""
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    return serve(functools.partial(QuietHandler, directory=str(folder)))


def published_sha256(folder: Path) -> dict[str, str]:
    """sha256 of each mirrored file, as published in the mirror's README (not computed here)."""
    text = (folder / "README.md").read_text()
    return {path: f"sha256:{digest}" for digest, path in re.findall(r"^([0-9a-f]{64})  \./(\S+)$", text, re.M)}


def mirrored_registry(folder: Path, url: str) -> dict:
    """The course registry, with every URL pointing at ``url``, a mirror of ``folder``.

    Photos keep their canonical hashes (the mirror holds the same bytes); the derived weights,
    class index and MNIST copies are checked against the hashes the mirror publishes.
    """
    published = published_sha256(folder)
    return {path: assets.Asset(path, asset.known_hash if path.startswith("images/") else published.get(path),
                               f"{url}/{path}")
            for path, asset in assets.registry().items()}


# --- TF Hub modules ----------------------------------------------------------------------------

def fake_module(folder):
    """The files of a complete SavedModel (stand-ins: nothing here loads them)."""
    (folder / "variables").mkdir(parents=True)
    for name in ("saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001"):
        (folder / name).write_bytes(b"stand-in")
    return folder


def tfhub_like_resolve(downloads):
    """A stand-in for tensorflow_hub.resolve: like it, it takes any non-empty module folder as downloaded."""
    def resolve(handle):
        module = hub.module_folder(Path(os.environ["TFHUB_CACHE_DIR"]).parent, handle)
        if module.is_dir() and any(module.iterdir()):
            return str(module)
        shutil.rmtree(module, ignore_errors=True)
        downloads.append(handle)
        return str(fake_module(module))

    return resolve


# --- synthetic features for the SVM classifier -------------------------------------------------

BACKBONE = "mobilenet_v2"  # a real backbone name: fit and load check features against its layers
DIM = 1000  # the width of its logits layer, the default


def blobs(n_per_class=6, n_classes=2, seed=0):
    """Well separated clusters: class c is shifted by +3 in coordinates 50c to 50c+49."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for c in range(n_classes):
        centre = np.zeros(DIM)
        centre[50 * c : 50 * c + 50] = 3.0  # 50 of the 1000: enough signal to stand out of the noise
        features.append(centre + rng.normal(size=(n_per_class, DIM)))
        labels += [c] * n_per_class
    return np.vstack(features), np.array(labels)
