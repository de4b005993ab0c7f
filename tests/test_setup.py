"""helpers.setup: the notebooks' first cell."""

import re
import subprocess
import sys
from pathlib import Path

from helpers import setup


def test_version_problems_are_one_actionable_line_each():
    assert setup.version_problems({"python": "3.12.8", "tensorflow": "2.21.0", "keras": "3.15.1"}) == []
    problems = setup.version_problems({"python": "3.12.8", "tensorflow": "2.15.1", "keras": "2.15.0"})
    assert len(problems) == 2
    assert problems[0].startswith("tensorflow 2.15.1 is older than 2.19") and "pip install -r requirements.txt" in problems[0]
    broken = setup.version_problems({"python": "3.12.1", "tensorflow": "2.21.0", "keras": "3.15.1"})
    assert len(broken) == 1 and "3.12.2" in broken[0]


def test_setup_notebook_prints_one_line_and_silences_tensorflow():
    """In a fresh process, as in a notebook: TensorFlow's C++ start-up lines must not show."""
    run = subprocess.run(
        [sys.executable, "-c", "from helpers.setup import setup_notebook; setup_notebook()"],
        capture_output=True, text=True, env={"GOING_DEEPER_BACKBONE": "mobilenet_v2", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("\n") == 1 and "TensorFlow 2." in run.stdout and "MobileNetV2" in run.stdout
    assert run.stderr == ""


def test_version_floors_agree_with_requirements_and_pyproject():
    """The setup line warns below exactly the floors that pip installs (and CI's floors leg tests)."""
    from requirement_floors import requirement_floors

    floors = requirement_floors()
    for package in ("tensorflow", "keras"):
        assert setup.MIN_VERSIONS[package] == tuple(int(p) for p in floors[package].split(".")), package
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    python_floor = re.search(r'requires-python = ">=(\d+)\.(\d+)', pyproject).groups()
    assert setup.MIN_VERSIONS["python"] == tuple(map(int, python_floor))


def test_memory_line_only_when_the_backbone_needs_more(monkeypatch):
    from helpers import backbones

    inception, mobilenet = backbones.get_backbone("inception_v3"), backbones.get_backbone("mobilenet_v2")
    assert setup.memory_problem(inception, inception.memory_gib) is None
    problem = setup.memory_problem(inception, 2.0)  # a Binder session
    assert "2.0 GiB" in problem and "GOING_DEEPER_BACKBONE=mobilenet_v2" in problem
    assert setup.memory_problem(mobilenet, 2.0) is None, "Binder's 2 GB must be enough for MobileNetV2"


def test_available_memory_reads_the_container_limit(tmp_path, monkeypatch):
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.setattr(setup, "CGROUP_LIMIT_FILES", (str(v2), str(v1)))
    physical = setup.available_memory_gib()  # no cgroup file: the machine's memory
    assert physical > 0.5
    v2.write_text("max\n")  # cgroup v2 without a limit
    assert setup.available_memory_gib() == physical
    v1.write_text(f"{2 * 2**30}\n")  # a 2 GiB container (cgroup v1)
    assert setup.available_memory_gib() == 2.0
