"""helpers.setup: the notebooks' first cell."""

from helpers import setup


def test_version_problems_are_one_actionable_line_each():
    assert setup.version_problems({"python": "3.12.1", "tensorflow": "2.21.0", "keras": "3.15.1"}) == []
    problems = setup.version_problems({"python": "3.12.1", "tensorflow": "2.15.1", "keras": "2.15.0"})
    assert len(problems) == 2
    assert problems[0].startswith("tensorflow 2.15.1 is older than 2.19") and "pip install -r requirements.txt" in problems[0]


def test_setup_notebook_prints_one_status_line(capsys, monkeypatch):
    monkeypatch.setenv("GOING_DEEPER_BACKBONE", "mobilenet_v2")
    assert setup.setup_notebook() is None
    printed = capsys.readouterr()
    assert printed.out.count("\n") == 1 and "TensorFlow 2." in printed.out and "MobileNetV2" in printed.out
    assert "absl" not in printed.err  # TensorFlow's start-up noise stays out
