"""pytest plugin: give the notebooks an offline TF Hub module when the test run is offline.

Notebook 4 resolves its TF Hub module with ``helpers.hub.resolve_module()``, which reads
``GOING_DEEPER_TFHUB_HANDLE`` (default: the backbone's real tfhub.dev handle, which needs
internet). When the tests run from an offline asset folder (``GOING_DEEPER_ASSETS`` set) and
no handle is given, this plugin builds a TF-Hub-format SavedModel from the backbone's weights
(``tests/tfhub_fixture.py``) in a temporary folder and sets ``GOING_DEEPER_TFHUB_HANDLE`` to
it; notebook kernels inherit the environment.

It builds only when notebooks are collected (about 10 s, once per test run), so unit-test
runs pay nothing. Registered by the root ``conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HANDLE_ENV = "GOING_DEEPER_TFHUB_HANDLE"
ASSETS_ENV = "GOING_DEEPER_ASSETS"

_temporary_dirs: list[Path] = []


def _needs_offline_module() -> bool:
    return bool(os.environ.get(ASSETS_ENV)) and not os.environ.get(HANDLE_ENV)


def pytest_collection_finish(session: pytest.Session) -> None:
    if not _needs_offline_module():
        return
    if not any(str(item.path).endswith(".ipynb") for item in session.items):
        return
    folder = Path(tempfile.mkdtemp(prefix="going-deeper-tfhub-"))
    _temporary_dirs.append(folder)
    module_dir = folder / "feature_vector"
    # A separate process: the test process itself never imports TensorFlow for this.
    result = subprocess.run(
        [sys.executable, "-m", "tests.tfhub_fixture", str(module_dir)],
        cwd=session.config.rootpath,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise pytest.UsageError(
            f"tests/nbval_setup.py could not build the offline TF Hub module:\n{result.stderr[-3000:]}"
        )
    os.environ[HANDLE_ENV] = str(module_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _temporary_dirs:
        if os.environ.get(HANDLE_ENV, "").startswith(str(folder)):
            del os.environ[HANDLE_ENV]
        shutil.rmtree(folder, ignore_errors=True)
    _temporary_dirs.clear()
