"""The default path: every notebook, top to bottom, on Inception V3, within Binder's memory.

Every learner who opens the course gets Inception V3, but the offline test machines have no
Inception weights. Run time, memory, shapes and layer names do not depend on the weight
values, so this test runs each notebook on random weights in ``keras.applications``' layout
(``tools/structural_assets.py``), overlaid on the offline folder, with the TF Hub stand-in
built from them. It fails on any error, on a notebook that needs more memory than the backbone
declares (``Backbone.memory_gib``: the setup cell warns learners below it), and on any check-cell
(tag ``nbval-check-output``) output that differs from the stored one -- except checks tagged ``needs-pretrained-weights``
(accuracies, top-5 answers), which random weights cannot pass.

It runs when the tests are offline (``GOING_DEEPER_ASSETS`` set) and that folder has no
Inception V3 weights; with real weights, the plain nbval run already covers Inception V3.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.backbones import get_backbone
from helpers.environment import BACKBONE_ENV, CACHE_ENV, HANDLE_ENV, OFFLINE_ENV
from notebook_runner import changed_checks, is_check_cell, run_notebook
from structural_assets import TFHUB_MODULE

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BACKBONE = "inception_v3"
WEIGHTS = "keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
NEEDS_PRETRAINED_WEIGHTS = "needs-pretrained-weights"  # cell tag: skipped on random weights


def _offline_without_inception() -> bool:
    folder = os.environ.get(OFFLINE_ENV)
    return bool(folder) and not (Path(folder) / WEIGHTS).is_file()


needs_structural_run = pytest.mark.skipif(
    not _offline_without_inception(),
    reason="runs offline without real Inception V3 weights (GOING_DEEPER_ASSETS set, no Inception there)",
)


@pytest.fixture(scope="module")
def inception_env(tmp_path_factory):
    """The environment of a learner on the default backbone, with structural weights."""
    overlay = tmp_path_factory.mktemp("inception-assets") / "assets"
    # A separate process: the test process itself does not import TensorFlow.
    subprocess.run([sys.executable, str(ROOT / "tools" / "structural_assets.py"), str(overlay),
                    "--base", os.environ[OFFLINE_ENV]],
                   check=True, capture_output=True, text=True, cwd=ROOT)
    return {
        OFFLINE_ENV: str(overlay),
        BACKBONE_ENV: BACKBONE,
        HANDLE_ENV: str(overlay / TFHUB_MODULE),
        # its own feature cache: features of random weights must never meet real ones
        CACHE_ENV: str(tmp_path_factory.mktemp("inception-cache")),
    }


def weight_independent_checks(nb) -> list:
    return [cell for cell in nb.cells if is_check_cell(cell) and NEEDS_PRETRAINED_WEIGHTS not in cell.metadata.get("tags", [])]


@needs_structural_run
@pytest.mark.notebooks
@pytest.mark.ci_leg("colab")  # Colab is where most learners run the default backbone
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_inception_v3(path, inception_env, notebook_costs):
    stored = nbformat.read(path, as_version=4)
    executed, report = run_notebook(path, env=inception_env)
    notebook_costs.append(f"{path.name} on Inception V3 (structural weights): peak "
                          f"{report['peak_rss_mb'] / 1024:.2f} GiB, kernel time {report['kernel_seconds']} s")

    assert changed_checks(stored, executed, skip_tag=NEEDS_PRETRAINED_WEIGHTS) == [], "check cells whose output changed"
    declared = get_backbone(BACKBONE).memory_gib
    assert report["peak_rss_mb"] <= declared * 1024, (
        f"{path.name} peaked at {report['peak_rss_mb']} MiB on {BACKBONE}, above the {declared} GiB "
        f"that helpers/backbones.py declares (and the setup cell's memory warning uses)")


def test_pretrained_checks_are_tagged_sparingly():
    """Only accuracy-like checks may be skipped; every notebook keeps some weight-independent check."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if NEEDS_PRETRAINED_WEIGHTS in c.metadata.get("tags", [])]
        assert all(is_check_cell(c) for c in tagged), f"{path.name}: a tagged cell is not a check cell"
        assert weight_independent_checks(nb), f"{path.name}: nothing is compared on random weights"
