"""Notebook 2's upload button reads both ipywidgets layouts and shows its errors to the learner;
notebook 3's zip of a photo folder is unpacked safely, from macOS and Windows alike."""

import stat
import zipfile
from pathlib import Path
from types import SimpleNamespace

import ipywidgets
import nbformat
import pytest
import traitlets
from IPython.display import clear_output

from helpers import uploads
from helpers.uploads import clear, show_errors_in, unpack_photo_zip, uploaded_files

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


# --- zips of a photo folder (notebook 3's Colab cell) --------------------------------------------------------
def make_zip(path: Path, members: dict, links=()) -> Path:
    """A zip with ``members`` {name as stored: bytes}, names kept exactly (backslashes, '..', long names)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_macos_zip_gives_its_class_folders_and_no_macosx_class(tmp_path):
    zip_path = make_zip(tmp_path / "pianos.zip", {
        "pianos/grand/a.jpg": PHOTO, "pianos/upright/b.jpg": PHOTO, "pianos/.DS_Store": b"x",
        "__MACOSX/pianos/grand/._a.jpg": b"resource fork", "__MACOSX/pianos/._upright": b"x"})
    unpacked = unpack_photo_zip(zip_path, tmp_path)
    assert unpacked.folder.name == "pianos" and unpacked.folder.parent.parent == tmp_path
    assert tree(unpacked.folder) == ["grand/a.jpg", "upright/b.jpg"] and unpacked.files == 2
    assert not (unpacked.folder.parent / "__MACOSX").exists()
    assert unpacked.skipped == ["3 macOS extra file(s) (__MACOSX/, ._*, .DS_Store): not photos"]
    flat = make_zip(tmp_path / "flat.zip",
                    {"grand/a.jpg": PHOTO, "upright/b.jpg": PHOTO, "__MACOSX/grand/._a.jpg": b"x"})
    unpacked = unpack_photo_zip(flat, tmp_path)  # the class folders at the top: __MACOSX is no third class
    assert sorted(p.name for p in unpacked.folder.iterdir()) == ["grand", "upright"]


def test_a_windows_zip_with_backslashes_gives_class_folders(tmp_path):
    zip_path = make_zip(tmp_path / "pianos.zip", {"pianos\\grand\\a.jpg": PHOTO, "pianos\\upright\\b.jpg": PHOTO})
    unpacked = unpack_photo_zip(zip_path, tmp_path)
    assert unpacked.folder.name == "pianos" and tree(unpacked.folder) == ["grand/a.jpg", "upright/b.jpg"]


def test_unsafe_and_impossible_members_are_skipped_and_named(tmp_path):
    long_name = "grand/" + "a" * 300 + ".jpg"
    zip_path = make_zip(tmp_path / "pianos.zip", {
        "grand/a.jpg": PHOTO, "upright/b.jpg": PHOTO, "../escape.jpg": PHOTO, "upright/../../x.jpg": PHOTO,
        "/etc/cron.d/evil": PHOTO, "C:\\Windows\\evil.jpg": PHOTO, long_name: PHOTO}, links=["grand/link.jpg"])
    (tmp_path / "into").mkdir()
    unpacked = unpack_photo_zip(zip_path, tmp_path / "into")
    assert tree(unpacked.folder) == ["grand/a.jpg", "upright/b.jpg"]
    assert tree(tmp_path / "into") == [f"{unpacked.folder.name}/grand/a.jpg", f"{unpacked.folder.name}/upright/b.jpg"]
    assert not (tmp_path / "escape.jpg").exists() and not (tmp_path / "x.jpg").exists()
    assert unpacked.summary().splitlines()[:2] == [f"2 file(s) unpacked into {unpacked.folder}",
                                                   "  left out: ../escape.jpg: its path leads outside the folder"]
    reasons = dict(line.split(": ", 1) for line in unpacked.skipped)
    outside = "its path leads outside the folder"
    assert reasons == {
        "../escape.jpg": outside, "upright/../../x.jpg": outside, "/etc/cron.d/evil": outside,
        "C:\\Windows\\evil.jpg": outside, long_name: "a name longer than 255 bytes, more than the disk takes",
        "grand/link.jpg": "a link, not a file"}


@pytest.mark.parametrize("limit, members, message", [
    ({}, {"bomb/a.jpg": bytes(20 * 2**20)}, "more than 100 times its size"),  # 20 MiB of zeros zip to 20 kB
    ({"MAX_FILES": 3}, {f"cats/{i}.jpg": PHOTO for i in range(4)}, "4 files"),
    ({"MAX_UNPACKED_BYTES": 2**20, "MAX_RATIO": 10**9}, {"big/a.jpg": bytes(2**20 + 1)}, "1 MiB unpacked"),
])
def test_a_zip_over_the_limits_is_refused_and_leaves_nothing(limit, members, message, tmp_path, monkeypatch):
    for name, value in limit.items():
        monkeypatch.setattr(uploads, name, value)
    zip_path = make_zip(tmp_path / "photos.zip", members)
    with pytest.raises(ValueError, match=f"photos.zip: .*{message}.*Nothing was unpacked"):
        unpack_photo_zip(zip_path, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["photos.zip"]


def test_a_damaged_zip_is_a_clear_error(tmp_path):
    (tmp_path / "photos.zip").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ValueError, match="photos.zip: not a zip file that can be read.*Zip the folder again"):
        unpack_photo_zip(tmp_path / "photos.zip", tmp_path)


IPYWIDGETS_7 = ipywidgets.__version__.startswith("7.")


def choose(upload, name: str, content: bytes) -> None:
    """What the browser does when the learner chooses a file, for the ipywidgets version installed."""
    if IPYWIDGETS_7:  # the front end sends metadata and data, then bumps a counter; the kernel builds value
        upload.set_trait("metadata", [{"name": name, "type": "image/jpeg", "size": len(content), "lastModified": 0}])
        upload.set_trait("data", [content])
        upload.set_trait("_counter", upload._counter + 1)
    else:  # ipywidgets 8: the front end sends the new value, as JSON (sizes, times in ms) and bytes
        upload.set_state({"value": [{"name": name, "type": "image/jpeg", "size": len(content),
                                     "last_modified": 1700000000000, "content": memoryview(content)}]})


class Ipywidgets7Upload(traitlets.HasTraits):
    """The kernel side of Colab's FileUpload (ipywidgets 7.7): a read-only dict value."""

    value = traitlets.Dict(read_only=True)


class Ipywidgets8Upload(traitlets.HasTraits):
    """The kernel side of JupyterLab's FileUpload (ipywidgets 8): a tuple of dicts."""

    value = traitlets.Tuple()


def handler_that_clears(upload, handled):
    """A callback written as helpers/uploads.py's docstring (and notebook 2) wires it."""

    def on_upload(change):
        files = uploaded_files(change.new)
        clear(upload)
        handled.extend(name for name, _ in files)

    upload.observe(on_upload, names="value")


def test_choosing_the_same_photo_twice_handles_it_twice():
    """The widget reports only changes: without clear(), the second choice of the same photo is lost."""
    upload, handled = ipywidgets.FileUpload(accept="image/*"), []
    handler_that_clears(upload, handled)
    choose(upload, "car.jpg", PHOTO)
    choose(upload, "car.jpg", PHOTO)
    assert handled == ["car.jpg", "car.jpg"]
    assert uploaded_files(upload.value) == []


@pytest.mark.parametrize("value", [IPYWIDGETS_8_VALUE, IPYWIDGETS_7_VALUE], ids=["ipywidgets8", "ipywidgets7"])
def test_clear_empties_both_layouts(value):
    """Whichever ipywidgets is installed here, clear() also empties the other version's value."""
    upload = Ipywidgets8Upload() if isinstance(value, tuple) else Ipywidgets7Upload()
    upload.set_trait("value", value)
    handled = []
    handler_that_clears(upload, handled)
    upload.set_trait("value", value)  # the same file again: no change, no call...
    assert handled == []
    clear(upload)  # ...unless the value was emptied after the first one
    assert upload.value in ((), {}) and type(upload.value) is type(value)
    upload.set_trait("value", value)
    assert handled == ["car.jpg"] and uploaded_files(upload.value) == []


def test_notebook_2_classifies_the_same_photo_chosen_twice():
    classified = []
    namespace = {
        "widgets": ipywidgets, "uploads": uploads_module(), "display": lambda *a: None, "clear_output": lambda **k: None,
        "Path": Path, "urlparse": __import__("urllib.parse").parse.urlparse,
        "image_from_bytes": lambda data, name: name,
        "classify_photo": lambda image, title: classified.append(title),
        "download_image": lambda url: url,
    }
    exec(notebook_upload_cell(), namespace)
    choose(namespace["upload"], "car.jpg", PHOTO)
    choose(namespace["upload"], "car.jpg", PHOTO)
    assert classified == ["car.jpg", "car.jpg"]


def uploads_module():
    from helpers import uploads

    return uploads


def test_jupyterlab_4_gets_the_ipywidgets_8_it_renders_and_colab_keeps_7():
    """JupyterLab 4 shows no widget at all with ipywidgets 7; Colab, which never reads requirements.txt, ships 7.7."""
    from requirement_floors import requirement_floors

    root = Path(__file__).parents[1]
    floors = requirement_floors()
    assert int(floors["jupyterlab"].split(".")[0]) >= 4
    assert tuple(map(int, floors["ipywidgets"].split("."))) >= (8, 1), "requirements.txt lets JupyterLab 4 meet ipywidgets 7"
    assert "ipywidgets==7.7.1" in (root / ".ci" / "colab-constraints.txt").read_text(), "the colab leg tests 7.7.1"
    assert "colab_requirements" in (root / ".ci" / "run").read_text(), "the colab leg must lift the 8.1 floor"
