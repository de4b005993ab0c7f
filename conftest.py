"""pytest configuration shared by the unit tests (tests/) and the notebook runs (notebooks/).

It also gives the notebooks an offline TF Hub module when the test run is offline. Notebook 4
resolves its module with ``helpers.hub.resolve_module()``, which reads
``GOING_DEEPER_TFHUB_HANDLE`` (default: the backbone's real tfhub.dev handle, which needs
internet). When the tests run from an offline asset folder (``GOING_DEEPER_ASSETS`` set) and no
handle is given, a TF-Hub-format SavedModel is built from the backbone's offline weights
(``tools/tfhub_fixture.py``) in a temporary folder, and ``GOING_DEEPER_TFHUB_HANDLE`` points at
it; notebook kernels inherit the environment. It is built only when notebook runs are collected
(nbval's, or a test marked ``notebooks``; about 10 s, once per run), so unit-test runs pay nothing.

(This lives here rather than in a ``tests.something`` plugin module: IPython 7, Colab's, puts
its own ``tests`` package on ``sys.path``, which would shadow the project's ``tests/`` folder.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers.environment import HANDLE_ENV, OFFLINE_ENV

# The developer tools in tools/ (the benchmark, the notebook cleaner, the fixtures' builders...) are
# scripts, not a package: the tests that check them, and those that use them, import them by name.
sys.path.insert(0, str(Path(__file__).parent / "tools"))

from notebook_runner import peak_gib, set_headless_defaults  # noqa: E402  (tools/ is on the path now)

# Figures drawn, never shown; no TensorFlow start-up lines; no TensorBoard server: the environment
# of every notebook run (nbval's kernels inherit this process's), set in one place.
set_headless_defaults()

TFHUB_FIXTURE = Path(__file__).parent / "tools" / "tfhub_fixture.py"

_temporary_dirs: list[Path] = []
# What each notebook run cost, printed at the end of the test run (CI's log shows it).
_notebook_costs: list[str] = []


@pytest.fixture(scope="session")
def notebook_costs() -> list[str]:
    """Lines for the "notebook runs" summary at the end of the test run."""
    return _notebook_costs


# CI's leg (.ci/run sets it: readme, colab or floors). Unset, every test runs; set, a test marked
# ``ci_leg(name)`` runs in that leg only.
CI_LEG_ENV = "GOING_DEEPER_CI_LEG"
# The legs that run the notebooks another way than nbval, so nbval's own run is left out there
# (pytest_ignore_collect below):
#   floors: tests/test_rerun.py's first pass over each notebook is a Run All that compares every check cell
#           with the committed output, as nbval does;
#   colab:  Colab's learners run Inception V3 (tests/test_default_backbone.py). What the real MobileNetV2
#           weights compute is checked at both ends of the version range (readme: newest, floors: lowest),
#           and Colab's versions lie between them.
LEGS_WITHOUT_NBVAL = ("floors", "colab")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "notebooks: runs whole notebooks (minutes); `pytest -m \"not notebooks\"` is the quick unit loop")
    config.addinivalue_line(
        "markers", f"ci_leg(name): a question one environment settles: .ci/run runs it in that leg only ({CI_LEG_ENV})")


def leg_of(item: pytest.Item) -> str | None:
    """The one CI leg that runs ``item``, or None for every leg."""
    marker = item.get_closest_marker("ci_leg")
    return None if marker is None else marker.args[0]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the legs of :data:`LEGS_WITHOUT_NBVAL`, nbval's notebook files are not collected at all.

    (Deselecting their cells is not enough: nbval 0.11, the floor, still ran them.)"""
    if os.environ.get(CI_LEG_ENV) in LEGS_WITHOUT_NBVAL and collection_path.suffix == ".ipynb":
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """nbval's notebook cells carry the ``notebooks`` marker too, so one ``-m`` selects or leaves out every run.

    In a CI leg (``GOING_DEEPER_CI_LEG``), the tests marked for another leg are deselected.
    """
    for item in items:
        if str(item.path).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebooks)
    leg = os.environ.get(CI_LEG_ENV)
    if leg:
        other = [item for item in items if leg_of(item) not in (None, leg)]
        if other:
            config.hook.pytest_deselected(items=other)
            items[:] = [item for item in items if leg_of(item) in (None, leg)]


def pytest_terminal_summary(terminalreporter) -> None:
    if _notebook_costs:
        terminalreporter.section("notebook runs: peak memory (and time) per notebook")
        for line in _notebook_costs:
            terminalreporter.write_line(line)


def _needs_offline_module() -> bool:
    return bool(os.environ.get(OFFLINE_ENV)) and not os.environ.get(HANDLE_ENV)


def pytest_collection_finish(session: pytest.Session) -> None:
    if not _needs_offline_module():
        return
    if not any(item.get_closest_marker("notebooks") for item in session.items):  # nbval's, or a test's own runs
        return
    folder = Path(tempfile.mkdtemp(prefix="going-deeper-tfhub-"))
    _temporary_dirs.append(folder)
    module_dir = folder / "feature_vector"
    # A separate process: the test process itself never imports TensorFlow for this.
    result = subprocess.run(
        [sys.executable, str(TFHUB_FIXTURE), str(module_dir)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise pytest.UsageError(f"could not build the offline TF Hub module:\n{result.stderr[-3000:]}")
    os.environ[HANDLE_ENV] = str(module_dir)


@pytest.hookimpl(tryfirst=True)  # before nbval shuts the notebook's kernel down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a notebook's last cell: its kernel's peak memory must fit what the backbone declares.

    ``Backbone.memory_gib`` is what the setup cell's memory warning promises learners.
    """
    kernel = getattr(item.parent, "kernel", None)  # nbval's running kernel for this notebook
    if kernel is None or (nextitem is not None and nextitem.parent is item.parent):
        return
    peak = peak_gib(kernel.km.provisioner.pid)  # the one reader of a kernel's peak
    from helpers.setup import import_tensorflow_quietly

    import_tensorflow_quietly()  # helpers.backbones imports Keras: keep TensorFlow's start-up lines out of the log
    from helpers.backbones import get_backbone

    backbone = get_backbone()
    if peak is not None:
        _notebook_costs.append(f"{item.parent.name} on {backbone.title} (nbval): peak {peak:.2f} GiB "
                               f"(declared {backbone.memory_gib} GiB)")
    if peak is not None and peak > backbone.memory_gib:
        pytest.fail(f"{item.parent.name} peaked at {peak:.2f} GiB of memory, above the {backbone.memory_gib} GiB "
                    f"that helpers/backbones.py declares for {backbone.title}")


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _temporary_dirs:
        if os.environ.get(HANDLE_ENV, "").startswith(str(folder)):
            del os.environ[HANDLE_ENV]
        shutil.rmtree(folder, ignore_errors=True)
    _temporary_dirs.clear()
