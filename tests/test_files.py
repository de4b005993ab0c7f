"""helpers.files.atomic_output: a write that fails leaves the previous version as it was, and no debris."""

import errno
import os
import time

import pytest

from helpers.files import atomic_output


def test_a_file_is_replaced_only_when_complete(tmp_path):
    path = tmp_path / "out" / "model.keras"  # missing folders are made
    with atomic_output(path) as temporary:
        assert temporary.name == "model.keras" and temporary.parent.parent == path.parent
        assert temporary.parent.name.startswith(".")  # hidden while it is being written
        temporary.write_text("first")
        assert not path.exists()
    with atomic_output(path) as temporary:
        temporary.write_text("second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["model.keras"]


def test_a_folder_replaces_a_folder(tmp_path):
    path = tmp_path / "model_savedmodel"
    for version in ("old", "new"):
        with atomic_output(path) as temporary:
            temporary.mkdir()
            (temporary / f"{version}.pb").write_text(version)
    assert os.listdir(path) == ["new.pb"]
    assert os.listdir(tmp_path) == ["model_savedmodel"]


@pytest.mark.parametrize("failure", [ValueError("a bug in the writer"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_previous_version(failure, tmp_path):
    path = tmp_path / "cars.tflite"
    path.write_text("good")
    with pytest.raises(type(failure)):
        with atomic_output(path) as temporary:
            temporary.write_text("half of a mod")
            raise failure
    assert path.read_text() == "good"
    assert os.listdir(tmp_path) == ["cars.tflite"]


def test_a_full_disk_is_an_error_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "cars.tflite"
    path.write_text("good")

    def full_disk(source, destination):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match=rf"{path}: could not be written \(No space left on device\).*unchanged"):
        with atomic_output(path) as temporary:
            temporary.write_text("new")
    monkeypatch.undo()
    assert path.read_text() == "good"
    assert os.listdir(tmp_path) == ["cars.tflite"]


def test_writing_nothing_is_an_error(tmp_path):
    with pytest.raises(OSError, match="could not be written"):
        with atomic_output(tmp_path / "model.keras"):
            pass
    assert os.listdir(tmp_path) == []


def test_two_writers_never_share_a_temporary(tmp_path):
    path = tmp_path / "cars_svm.npz"
    with atomic_output(path) as first, atomic_output(path) as second:
        assert first != second
        first.write_text("one")
        second.write_text("two")
    assert path.read_text() == "one"  # the last to finish wins; both were complete


def test_temporaries_of_killed_writes_are_swept_but_not_a_write_in_progress(tmp_path):
    """A kernel killed mid-export never cleans up: its hidden folder (28-95 MB for a SavedModel) is swept later."""
    path = tmp_path / "cars_svm_savedmodel"
    killed, in_progress = tmp_path / f".{path.name}.k1ll3d00.tmp", tmp_path / f".{path.name}.wr1t1ng0.tmp"
    for folder in (killed, in_progress):
        (folder / path.name / "variables").mkdir(parents=True)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(killed, (two_hours_ago, two_hours_ago))
    learners = tmp_path / ".my notes.tmp"  # not a name the course makes: never touched
    learners.mkdir()
    os.utime(learners, (two_hours_ago, two_hours_ago))
    with atomic_output(path) as temporary:
        temporary.mkdir()
    assert sorted(os.listdir(tmp_path)) == sorted([".my notes.tmp", in_progress.name, path.name])
