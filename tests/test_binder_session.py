"""A whole Binder session: notebooks 1 to 4 one after another, every tab left open, in 2 GiB.

Binder gives a session 2 GB for all its kernels together, and JupyterLab keeps a finished notebook's
kernel running. ``binder/jupyter_server_config.py`` has Jupyter Server shut idle kernels down; this
test replays the session (``tools/binder_session.py``: Jupyter Server's own kernel manager and culler,
the timeout scaled from minutes to seconds) under a real 2 GiB cgroup memory limit where it can
(Linux, root, cgroup v1), and checks that no kernel dies and the session's memory stays under 2 GiB.
Without the culling configuration notebook 4's kernel is killed (checked). Offline, the session runs
from a workshop bundle with downloads forbidden: the one run of the course from a bundle.

It runs the four notebooks (about 3 minutes), so it is opt-in: ``GOING_DEEPER_BINDER_SESSION=1``
(CI's readme leg sets it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import assets, bundle
from helpers.environment import BACKBONE_ENV, CACHE_ENV, HANDLE_ENV, NO_DOWNLOAD_ENV, OFFLINE_ENV
from notebook_runner import printed
from support import BINDER_SESSION_ENV, mirrored_registry, serve_folder

ROOT = Path(__file__).resolve().parents[1]
CGROUP_V1 = Path("/sys/fs/cgroup/memory")
LIMIT_GIB = 2.0  # mybinder.org's memory limit per session

pytestmark = [pytest.mark.notebooks, pytest.mark.ci_leg("readme"),  # Binder installs requirements.txt: the readme leg's
              pytest.mark.skipif(os.environ.get(BINDER_SESSION_ENV, "") in ("", "0"),
                                 reason=f"runs four notebooks: set {BINDER_SESSION_ENV}=1")]


def can_use_cgroup() -> bool:
    """Whether a cgroup v1 memory group can be made here (root, and a cgroup file system it may write)."""
    if not (CGROUP_V1 / "memory.limit_in_bytes").exists():
        return False
    probe = CGROUP_V1 / f"going-deeper-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


@pytest.fixture
def course_environment(tmp_path, monkeypatch):
    """The session's environment. Offline, a workshop bundle (downloaded from a local mirror of the asset
    folder) is its only source and downloads are errors: this one run also covers the course run from a
    bundle (``tests/test_bundle.py`` leaves it to this test). Notebook 4's TF Hub module: the one conftest.py
    built for the notebook runs, else one built here from the bundle's weights."""
    env = {**os.environ, BACKBONE_ENV: "mobilenet_v2"}  # what binder/start selects
    if not env.get(OFFLINE_ENV):
        return env, None
    target = tmp_path / "usb"
    with serve_folder(Path(env[OFFLINE_ENV])) as url:
        table = mirrored_registry(Path(env[OFFLINE_ENV]), url)
        monkeypatch.setattr(assets, "registry", lambda: table)
        monkeypatch.delenv(NO_DOWNLOAD_ENV, raising=False)
        bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    env.update({OFFLINE_ENV: str(target), NO_DOWNLOAD_ENV: "1", CACHE_ENV: str(tmp_path / "cache")})
    if not os.environ.get(HANDLE_ENV):
        subprocess.run([sys.executable, str(ROOT / "tools" / "tfhub_fixture.py"), str(tmp_path / "module")],
                       env=env, check=True, capture_output=True)
        env[HANDLE_ENV] = str(tmp_path / "module")
    return env, target


def test_notebooks_1_to_4_in_one_session_fit_binders_memory(tmp_path, course_environment, notebook_costs):
    env, bundle_folder = course_environment
    saved = tmp_path / "executed"
    saved.mkdir()
    limit = ["--limit-gib", str(LIMIT_GIB)] if can_use_cgroup() else []
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "binder_session.py"), *limit, "--save", str(saved),
                             "01", "02", "03", "04"],
                            env=env, capture_output=True, text=True, timeout=1800)
    assert "SESSION_REPORT" in result.stdout, result.stderr[-3000:]
    report = json.loads(result.stdout.split("SESSION_REPORT", 1)[1])
    notebook_costs.append("Binder session: " + ("under a 2 GiB cgroup v1 memory limit" if limit
                                                else "no cgroup (not root, or no cgroup v1): memory sampled only"))
    for entry in report["notebooks"]:
        notebook_costs.append(f"Binder session, {entry['notebook']}: kernel peak {entry['peak_gib']} GiB, "
                              f"session peak {entry.get('sum_peak_session_gib')} GiB with {entry['kernels_alive']} "
                              f"kernel(s) alive (cgroup: {entry.get('sum_peak_cgroup_gib', 'none')}), "
                              f"then held {entry['held_gib']} GiB, at each next notebook: {entry.get('held_gib_at_next')}")
    died = [entry["notebook"] for entry in report["notebooks"] if "died" in entry]
    assert not died and len(report["notebooks"]) == 4, f"kernel killed in {died}: {report}"
    assert report.get("oom_kills", 0) == 0, report
    assert all(entry["sum_peak_session_gib"] <= LIMIT_GIB for entry in report["notebooks"]), report
    # the culler, not luck: every finished notebook's kernel was shut down although its tab was open
    assert all(entry.get("held_gib_at_next", ["culled"])[-1] == "culled" for entry in report["notebooks"][:3]), report
    if bundle_folder is not None:  # the setup line of a notebook that reads assets names the bundle as its folder
        executed = nbformat.read(saved / "03_transfer_svm_cars.ipynb", as_version=4)
        assert str(bundle_folder) in "".join(printed(c) for c in executed.cells)
