"""helpers.setup: the notebooks' first cell."""

import re
import subprocess
import sys
from pathlib import Path

from helpers import setup


def test_version_problems_are_one_actionable_line_each():
    assert setup.version_problems({"python": "3.12.1", "tensorflow": "2.21.0", "keras": "3.15.1"}) == []
    problems = setup.version_problems({"python": "3.12.1", "tensorflow": "2.15.1", "keras": "2.15.0"})
    assert len(problems) == 2
    assert problems[0].startswith("tensorflow 2.15.1 is older than 2.19") and "pip install -r requirements.txt" in problems[0]


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
