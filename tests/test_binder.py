"""binder/: a Binder image that matches what CI tests and what the course needs."""

import re
from pathlib import Path

from requirement_floors import requirement_floors

ROOT = Path(__file__).resolve().parents[1]
CI_PYTHONS = {"3.10", "3.11", "3.13"}  # the legs of .ci/run


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

    from helpers.backbones import get_backbone

    env = {k: v for k, v in os.environ.items() if k != "GOING_DEEPER_BACKBONE"}
    selected = subprocess.run(["bash", "binder/start", "printenv", "GOING_DEEPER_BACKBONE"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
    assert get_backbone(selected).memory_gib <= 1.8, f"{selected} needs more than a Binder session has"
    assert "binder/start printenv GOING_DEEPER_BACKBONE" in (ROOT / "binder" / "postBuild").read_text()
