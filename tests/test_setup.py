"""helpers.setup: the notebooks' first cell."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import setup
from helpers.environment import BACKBONE_ENV


def test_version_problems_are_one_actionable_line_each():
    assert setup.version_problems({"python": "3.12.8", "tensorflow": "2.21.0", "keras": "3.15.1"}) == []
    problems = setup.version_problems({"python": "3.12.8", "tensorflow": "2.15.1", "keras": "2.15.0"})
    assert len(problems) == 2
    assert problems[0].startswith("tensorflow 2.15.1 is older than 2.19") and "pip install -r requirements.txt" in problems[0]
    # Python 3.12.1 saves SavedModels with TensorFlow 2.19-2.21 (test_this_python_saves_saved_models, run there)
    assert setup.version_problems({"python": "3.12.1", "tensorflow": "2.21.0", "keras": "3.15.1"}) == []


def test_setup_notebook_prints_one_line_and_silences_tensorflow():
    """In a fresh process, as in a notebook: TensorFlow's C++ start-up lines must not show."""
    run = subprocess.run(
        [sys.executable, "-c", "from helpers.setup import setup_notebook; setup_notebook()"],
        capture_output=True, text=True, env={BACKBONE_ENV: "mobilenet_v2", "PATH": "/usr/bin:/bin"},
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


def test_this_python_saves_saved_models(tmp_path):
    """What the export cells do (a tf.Module with tracked containers, a Keras export) works on this Python.

    Python 3.12.0/3.12.1 once failed here ("this __dict__ descriptor does not support '_DictWrapper'
    objects", tensorflow#63548); with TensorFlow 2.19-2.21 they do not, so the setup line no longer
    warns about them. Run this file on any Python the course supports to check it there.
    """
    import keras
    import tensorflow as tf

    module = tf.Module()
    module.table = {"weights": tf.Variable([1.0, 2.0])}  # wrapped in _DictWrapper, the type that failed
    tf.saved_model.save(module, str(tmp_path / "module"))
    assert tf.saved_model.load(str(tmp_path / "module")).table["weights"].numpy().tolist() == [1.0, 2.0]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.export(str(tmp_path / "keras"), verbose=False)
    assert (tmp_path / "keras" / "saved_model.pb").is_file()


def requirement_lines():
    from packaging.requirements import Requirement

    lines = (Path(__file__).parents[1] / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split(" #")[0]) for line in lines if line.strip() and not line.startswith(("#", "-"))]


@pytest.mark.parametrize("python", ["3.9", "3.14"])
def test_an_unsupported_python_is_refused_before_tensorflow(python):
    """pip on an unsupported Python must stop at helpers' requires-python ("requires a different Python"),
    not after a long download with a message about TensorFlow versions.

    pip finds candidates for every root requirement before it checks the requires-python of
    ``-e .``, and TensorFlow has no wheel for such a Python: so TensorFlow must not be asked for
    there (its environment marker), and pyproject's requires-python must refuse that Python.
    """
    from packaging.markers import default_environment
    from packaging.specifiers import SpecifierSet

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    supported = SpecifierSet(re.search(r'requires-python = "([^"]+)"', pyproject).group(1))
    assert python not in supported
    environment = {**default_environment(), "python_version": python, "python_full_version": python + ".0"}
    asked = [r.name for r in requirement_lines() if r.marker is None or r.marker.evaluate(environment)]
    assert "tensorflow" not in asked, f"on Python {python}, pip would fail on TensorFlow's versions first"
    assert "-e ." in (Path(__file__).parents[1] / "requirements.txt").read_text().splitlines()


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13"])
def test_every_supported_python_gets_tensorflow(python):
    from packaging.markers import default_environment

    environment = {**default_environment(), "python_version": python, "python_full_version": python + ".1"}
    (tensorflow,) = [r for r in requirement_lines() if r.name == "tensorflow"]
    assert tensorflow.marker is None or tensorflow.marker.evaluate(environment)


def test_memory_line_names_the_other_kernels_when_freeing_them_is_enough():
    """Binder: 2 GB for all of a session's kernels, and finished notebooks' kernels keep running."""
    from helpers import backbones

    mobilenet = backbones.get_backbone("mobilenet_v2")
    done = [("01_tensorflow_basics_mnist.ipynb", 0.7), ("02_imagenet_inception.ipynb", 0.6)]
    assert setup.memory_problem(mobilenet, 4.0, done) is None  # a laptop: room for all of them
    problem = setup.memory_problem(mobilenet, 2.0, done)
    assert "other kernels still hold 1.3 GiB" in problem and "01_tensorflow_basics_mnist.ipynb 0.7 GiB" in problem
    assert "shut them down" in problem and BACKBONE_ENV not in problem
    inception = backbones.get_backbone("inception_v3")
    assert "GOING_DEEPER_BACKBONE=mobilenet_v2" in setup.memory_problem(inception, 2.0, done), "freeing is not enough"


def test_other_kernels_finds_a_running_kernel_and_its_notebook():
    import os

    # A process that looks like a kernel Jupyter Server started for notebook 1 (the same command line and variable).
    kernel = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.stdout.write('up\\n'); sys.stdout.flush(); "
                               "time.sleep(60)", "-m", "ipykernel_launcher"],
                              env={**os.environ, "JPY_SESSION_NAME": "/home/jovyan/notebooks/01_tensorflow_basics_mnist.ipynb"},
                              stdout=subprocess.PIPE, text=True)
    try:
        assert kernel.stdout.readline() == "up\n"
        found = dict(setup.other_kernels())
        assert "01_tensorflow_basics_mnist.ipynb" in found and 0 < found["01_tensorflow_basics_mnist.ipynb"] < 1
    finally:
        kernel.kill()
        kernel.wait()
    assert "01_tensorflow_basics_mnist.ipynb" not in dict(setup.other_kernels())
