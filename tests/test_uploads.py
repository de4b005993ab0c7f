"""Notebook 2's upload button reads both ipywidgets layouts and shows its errors to the learner."""

from pathlib import Path
from types import SimpleNamespace

import ipywidgets
import nbformat
import pytest
from IPython.display import clear_output

from helpers.uploads import show_errors_in, uploaded_files

NOTEBOOK_2 = Path(__file__).parents[1] / "notebooks" / "02_imagenet_inception.ipynb"
PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg"

# FileUpload.value as each ipywidgets version fills it after the browser sends one file.
IPYWIDGETS_8_VALUE = ({"name": "car.jpg", "type": "image/jpeg", "size": len(PHOTO),
                       "last_modified": 1700000000000, "content": memoryview(PHOTO)},)
IPYWIDGETS_7_VALUE = {"car.jpg": {"metadata": {"name": "car.jpg", "type": "image/jpeg", "size": len(PHOTO),
                                               "lastModified": 1700000000000}, "content": PHOTO}}


@pytest.mark.parametrize("value", [IPYWIDGETS_8_VALUE, IPYWIDGETS_7_VALUE], ids=["ipywidgets8", "ipywidgets7"])
def test_uploaded_files_reads_both_layouts(value):
    assert uploaded_files(value) == [("car.jpg", PHOTO)]


def test_nothing_uploaded_gives_no_files():
    assert uploaded_files(()) == [] and uploaded_files({}) == []


def test_errors_are_printed_for_the_learner(capsys):
    @show_errors_in(ipywidgets.Output())  # outside a kernel the Output widget lets prints through
    def callback(error):
        raise error

    callback(ValueError("car.txt: not an image this notebook can read."))
    callback(KeyError(0))
    assert capsys.readouterr().out.splitlines() == [
        "car.txt: not an image this notebook can read.",
        "Something went wrong: KeyError: 0",
    ]


def notebook_upload_cell() -> str:
    nb = nbformat.read(NOTEBOOK_2, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "widgets.FileUpload(" in c.source)


@pytest.mark.parametrize("value", [IPYWIDGETS_8_VALUE, IPYWIDGETS_7_VALUE], ids=["ipywidgets8", "ipywidgets7"])
def test_notebook_upload_callback_classifies_the_uploaded_photo(value, capsys):
    """Run notebook 2's own widget cell with the model replaced by a recorder."""
    from helpers import uploads

    classified = []
    namespace = {
        "widgets": ipywidgets, "uploads": uploads, "display": lambda *a: None, "clear_output": clear_output,
        "Path": Path, "urlparse": __import__("urllib.parse").parse.urlparse,
        "image_from_bytes": lambda data, name: ("image", data, name),
        "classify_photo": lambda image, title: classified.append((image, title)),
        "download_image": lambda url: ("image", url),
    }
    exec(notebook_upload_cell(), namespace)
    namespace["on_upload"](SimpleNamespace(new=value))
    assert classified == [(("image", PHOTO, "car.jpg"), "car.jpg")]

    def broken_decoder(data, name):
        raise KeyError(0)  # what the old callback raised on ipywidgets 7, unseen by the learner

    namespace["image_from_bytes"] = broken_decoder
    namespace["on_upload"](SimpleNamespace(new=value))
    assert "Something went wrong: KeyError: 0" in capsys.readouterr().out
