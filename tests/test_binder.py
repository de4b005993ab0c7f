"""binder/: a Binder image that matches what CI tests and what the course needs."""

import re
from pathlib import Path

from requirement_floors import requirement_floors
from support import CI_PYTHONS

ROOT = Path(__file__).resolve().parents[1]


def requirement_lines(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    lines = [line.split(";")[0].strip() for line in lines if line and not line.startswith(("#", "-"))]  # no markers
    return {re.split(r"[<>=!~]", line)[0].lower(): line for line in lines}


def test_runtime_is_a_python_that_ci_tests():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime) and runtime.removeprefix("python-") in CI_PYTHONS


def test_binder_requirements_follow_the_course_requirements():
    course, binder = requirement_lines(ROOT / "requirements.txt"), requirement_lines(ROOT / "binder" / "requirements.txt")
    assert binder.pop("tensorflow-cpu").replace("tensorflow-cpu", "tensorflow") == course["tensorflow"]
    # JupyterLab 4 renders widgets with ipywidgets 8; Colab's 7.7 is for Colab's own front end
    assert requirement_floors(ROOT / "binder" / "requirements.txt")["ipywidgets"] == "8.1"
    binder.pop("ipywidgets")
    binder.pop("jupyter-server-proxy")  # Binder only: shows TensorBoard inside JupyterLab (binder/start)
    for name, line in binder.items():
        assert course.get(name) == line, f"binder/requirements.txt: {line!r} differs from requirements.txt"


def test_post_build_ties_tf_keras_to_the_installed_tensorflow():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert '"tf-keras==${tf_version}.*"' in post_build and "m.version('tensorflow-cpu')" in post_build


def test_binder_sessions_run_a_backbone_that_fits_their_memory():
    """Binder gives at most 2 GB: binder/start picks a backbone whose declared need fits, and postBuild bundles it."""
    import os
    import subprocess

    from helpers.backbones import BACKBONE_ENV, get_backbone

    env = {k: v for k, v in os.environ.items() if k != BACKBONE_ENV}
    selected = subprocess.run(["bash", "binder/start", "printenv", BACKBONE_ENV], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
    assert get_backbone(selected).memory_gib <= 1.8, f"{selected} needs more than a Binder session has"
    assert f"binder/start printenv {BACKBONE_ENV}" in (ROOT / "binder" / "postBuild").read_text()


def load_prefetch():
    import importlib.util

    spec = importlib.util.spec_from_file_location("prefetch", ROOT / "binder" / "prefetch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_post_build_prefetches_with_retries_and_never_fails_on_a_download():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert 'python binder/prefetch.py "$backbone"' in post_build
    assert "helpers.bundle" not in post_build, "the bundle stops at its first failed download"


def test_a_hiccup_is_retried_and_a_lost_photo_is_named_not_fatal(capsys):
    """A fake downloader: one photo fails twice then arrives, one never arrives, the TF Hub module is fine."""
    from helpers import assets, bundle

    prefetch = load_prefetch()
    paths = bundle.bundle_paths(["mobilenet_v2"])
    flaky, lost = [p for p in paths if p.startswith("images/")][:2]
    attempts, pauses = {}, []

    def fake_fetch(path, progress=True):
        attempts[path] = attempts.get(path, 0) + 1
        if path == lost or (path == flaky and attempts[path] <= 2):
            raise assets.AssetError(f"Could not download asset {path!r}: 503 Server Error\nNothing was saved.")
        return path

    missing = prefetch.prefetch("mobilenet_v2", fetch=fake_fetch, resolve_module=lambda backbone: "module",
                                delays=(1, 2, 4), sleep=pauses.append,
                                fetch_dataset=lambda name, progress=True: attempts.setdefault(name, 1))
    assert missing == [lost]
    assert attempts[flaky] == 3 and attempts[lost] == 4 and all(attempts[p] == 1 for p in paths if p not in (flaky, lost))
    assert attempts["hymenoptera_data"] == 1, "notebook 5's dataset is in the image too"
    assert pauses == [1, 2] + [1, 2, 4], "growing pauses between the attempts"
    log = capsys.readouterr().out
    assert f"{flaky}: Could not download" in log and "retrying in 1 s" in log and "gave up after 4 attempts" in log
    message = prefetch.report(missing, len(paths) + 1)
    assert message.startswith("WARNING: 1 of") and f"photos (1): {lost}" in message and "first needs them" in message
    assert prefetch.report([], len(paths) + 1).startswith("All ")


def test_the_build_goes_on_when_the_tf_hub_module_cannot_be_had(monkeypatch, capsys):
    from helpers import assets

    prefetch = load_prefetch()

    def no_module(backbone):
        raise assets.AssetError("Could not download TF Hub module: timed out")

    monkeypatch.setattr(prefetch.assets, "fetch", lambda path, progress=True: path)  # every file arrives
    monkeypatch.setattr(prefetch.hub, "resolve_module", no_module)
    monkeypatch.setattr(prefetch.datasets, "fetch_dataset", lambda name, progress=True: name)
    monkeypatch.setattr(prefetch.time, "sleep", lambda seconds: None)
    assert prefetch.main(["mobilenet_v2"]) == 0, "postBuild runs under set -e: a failed download must not end it"
    log = capsys.readouterr().out
    assert "other files: TF Hub module for mobilenet_v2" in log.splitlines()[-1]


def test_binder_sessions_cull_idle_kernels_even_with_their_tab_open(tmp_path):
    """binder/start points Jupyter Server at binder/jupyter_server_config.py, which culls idle kernels.

    A Binder session's kernels share 2 GB and JupyterLab keeps a finished notebook's kernel running
    with its tab open (tests/test_binder_session.py replays a whole session).
    """
    import json
    import os
    import subprocess
    import sys

    read_config = ("import json; from jupyter_server.serverapp import ServerApp; app = ServerApp(); "
                   "app.load_config_file(); print(json.dumps(dict(app.config.MappingKernelManager)))")
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"}
    result = subprocess.run(["bash", str(ROOT / "binder" / "start"), sys.executable, "-c", read_config],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    culling = json.loads(result.stdout)
    assert 5 * 60 <= culling.get("cull_idle_timeout", 0) <= 30 * 60, culling
    assert culling.get("cull_connected") is True, "an open tab must not keep a finished notebook's kernel"
    assert culling.get("cull_busy") is False and 0 < culling.get("cull_interval", 0) <= 120, culling
