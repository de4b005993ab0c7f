"""The offline workshop bundle, end to end without internet.

A local HTTP server on 127.0.0.1 serves ../shared/assets as a mirror of the canonical
URLs; the bundle is downloaded from it, verified, and a notebook then runs from the
bundle alone with downloads forbidden (or, when the Binder session runs, notebooks 1 to 4 do there).
"""

import os
import shutil
from pathlib import Path

import pytest

import tensorflow_hub

from helpers import assets, backbones, bundle, files, hub
from notebook_runner import printed, run_notebook
from support import BINDER_SESSION_ENV, fake_module, serve_folder, tfhub_like_resolve
from support import mirrored_registry as support_registry

SHARED = Path(os.environ.get(assets.OFFLINE_ENV, "")) if os.environ.get(assets.OFFLINE_ENV) else None
pytestmark = pytest.mark.skipif(SHARED is None, reason="needs the offline asset folder to serve as a mirror")
NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "03_transfer_svm_cars.ipynb"


@pytest.fixture(scope="module")
def mirror():
    with serve_folder(SHARED) as url:
        yield url


@pytest.fixture
def mirrored_registry(mirror, monkeypatch):
    """The course registry, with every URL pointing at the local mirror (``support.mirrored_registry``)."""
    table = support_registry(SHARED, mirror)
    monkeypatch.setattr(assets, "registry", lambda: table)
    monkeypatch.delenv(assets.NO_DOWNLOAD_ENV, raising=False)
    return table


def test_bundle_downloads_verifies_and_reports(mirrored_registry, tmp_path, capsys, monkeypatch):
    target = tmp_path / "usb"
    resolved = []

    def fake_resolve(handle):  # tfhub.dev cannot be reached here: check the wiring instead
        module = hub.module_folder(Path(os.environ["TFHUB_CACHE_DIR"]).parent, handle)
        fake_module(module)
        resolved.append(handle)
        return str(module)

    monkeypatch.setenv(hub.HANDLE_ENV, "https://example.org/an/override/1")  # the bundle ignores it
    monkeypatch.setattr(tensorflow_hub, "resolve", fake_resolve)
    bundle.main([str(target), "--backbone", "mobilenet_v2", "--no-datasets"])  # datasets: their own test below
    table = capsys.readouterr().out
    tfhub_handle = backbones.get_backbone("mobilenet_v2").tfhub_handle
    assert resolved == [tfhub_handle] and (hub.module_folder(target, tfhub_handle) / "saved_model.pb").is_file()
    assert "TF Hub: https://tfhub.dev/google/imagenet/mobilenet_v2" in table
    expected = bundle.bundle_paths(["mobilenet_v2"])
    assert len(expected) == 37 + 1 + 1 + 2  # photos, MNIST, class index, two weight files
    for path in expected:
        assert (target / path).is_file()
        assert path in table
    assert not [p for p in expected if "inception" in p]
    assert f"{len(expected) + 1} files" in table and f"GOING_DEEPER_ASSETS={target}" in table  # + TF Hub
    rows = bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    assert all(row["verified"] == "sha256" for row in rows)


@pytest.mark.notebooks
@pytest.mark.ci_leg("readme")
@pytest.mark.skipif(os.environ.get(BINDER_SESSION_ENV, "") not in ("", "0"),
                    reason="the Binder session (tests/test_binder_session.py) runs notebooks 1 to 4 from a bundle")
def test_course_runs_from_the_bundle_with_no_download(mirrored_registry, tmp_path):
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    # the bundle is the only source, downloads are errors
    notebook, _ = run_notebook(NOTEBOOK, env={assets.OFFLINE_ENV: str(target), assets.NO_DOWNLOAD_ENV: "1",
                                              assets.CACHE_ENV: str(tmp_path / "cache"),
                                              backbones.BACKBONE_ENV: "mobilenet_v2"})
    assert str(target) in "".join(printed(c) for c in notebook.cells)  # the setup line reports the bundle


def test_damaged_bundle_file_is_fetched_again(mirrored_registry, tmp_path):
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    photo = target / "images" / "samples" / "coral-cat.bmp"
    photo.write_bytes(b"damaged on the USB stick")
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    assert photo.read_bytes() == (SHARED / "images" / "samples" / "coral-cat.bmp").read_bytes()


def unhashed_weights(table):
    """The registry with MobileNetV2's weights unhashed, as they really are (no published hash)."""
    paths = [backbones.get_backbone("mobilenet_v2").weights, backbones.get_backbone("mobilenet_v2").weights_no_top]
    for path in paths:
        table[path] = assets.Asset(path, None, table[path].url)
    return paths


def test_bundle_writes_a_manifest_that_the_course_checks(mirrored_registry, tmp_path, monkeypatch):
    weights = unhashed_weights(mirrored_registry)
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    manifest = assets.read_manifest(target)
    assert sorted(manifest) == sorted(bundle.bundle_paths(["mobilenet_v2"]))
    assert manifest[weights[0]][0] == (target / weights[0]).stat().st_size
    # a damaged middle: same size, loads without error, and is caught by the manifest
    with open(target / weights[0], "r+b") as f:
        f.seek((target / weights[0]).stat().st_size // 2)
        f.write(b"\xff" * 4096)
    monkeypatch.setenv(assets.OFFLINE_ENV, str(target))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(assets.AssetError, match=rf"{weights[0]}: .*does not match the sha256 in the bundle manifest"):
        assets.fetch(weights[0])
    assert assets.fetch(weights[1]) == target / weights[1]  # the others are fine


def test_rebuilding_replaces_truncated_empty_and_incomplete_files(mirrored_registry, tmp_path, monkeypatch):
    top, no_top = unhashed_weights(mirrored_registry)
    downloads = []
    monkeypatch.setattr(tensorflow_hub, "resolve", tfhub_like_resolve(downloads))
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False)
    (target / top).write_bytes((target / top).read_bytes()[:1000])  # truncated by a full stick
    (target / no_top).write_bytes(b"")  # emptied
    module = hub.module_folder(target, backbones.get_backbone("mobilenet_v2").tfhub_handle)
    shutil.rmtree(module / "variables")  # a TF Hub module half copied
    rows = bundle.build_bundle(target, ["mobilenet_v2"], progress=False)
    for path in (top, no_top):
        assert (target / path).read_bytes() == (SHARED / path).read_bytes()
    assert len(downloads) == 2 and hub.module_problem(target, module) is None
    assert {row["verified"] for row in rows} >= {"content checked", "complete SavedModel"}


def test_bundle_files_are_readable_by_every_learner(mirrored_registry, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "FILE_MODE", 0o644)  # what an admin's umask 022 gives
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False)
    modes = {oct(p.stat().st_mode & 0o777) for p in target.rglob("*") if p.is_file()}
    assert modes == {"0o644"}


@pytest.mark.parametrize("where", ["photo", "tfhub module"])
def test_a_link_planted_in_the_bundle_is_refused_and_never_followed(where, mirrored_registry, tmp_path, monkeypatch):
    """Making files readable followed a link: a private 0600 file became 0644 and was listed in the manifest."""
    monkeypatch.setattr(files, "FILE_MODE", 0o644)
    monkeypatch.setattr(tensorflow_hub, "resolve", tfhub_like_resolve([]))
    target = tmp_path / "usb"
    bundle.build_bundle(target, ["mobilenet_v2"], progress=False)
    photo = "images/samples/coral-cat.bmp"
    private = tmp_path / "home" / "private"
    private.parent.mkdir()
    module = hub.module_folder(target, backbones.get_backbone("mobilenet_v2").tfhub_handle)
    if where == "photo":  # the right bytes (they pass the photo's hash), in a private file outside the bundle
        private.write_bytes((target / photo).read_bytes())
        (target / photo).unlink()
        link = target / photo
    else:
        private.write_bytes(b"-----BEGIN PRIVATE KEY-----")
        link = module / "assets" / "notes.txt"
        link.parent.mkdir()
    private.chmod(0o600)
    link.symlink_to(private)
    manifest = (target / assets.BUNDLE_MANIFEST).read_text()
    with pytest.raises(assets.AssetError, match=f"{link}: a symbolic link in the bundle folder"):
        bundle.build_bundle(target, ["mobilenet_v2"], progress=False)
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    assert (target / assets.BUNDLE_MANIFEST).read_text() == manifest  # not listed


def test_a_bundle_holds_the_datasets_extracted_and_listed(mirrored_registry, tmp_path, monkeypatch):
    """Notebook 5's ants vs bees: extracted into the bundle, every file in its manifest, read from there offline."""
    import hashlib
    import io
    import zipfile

    from helpers import datasets

    files = {"train/ants/a.jpg": b"ant", "val/bees/b.jpg": b"bee"}
    manifest = tmp_path / "tiny.sha256"
    manifest.write_text("".join(f"{hashlib.sha256(d).hexdigest()}  ./{p}\n" for p, d in files.items()))
    monkeypatch.setitem(datasets.DATASETS, "tiny", datasets.ZipDataset("tiny", "https://example.org/t.zip", "tiny", manifest))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for path, data in files.items():
            z.writestr(f"tiny/{path}", data)
    monkeypatch.setattr(datasets, "_download", lambda url, file, progress: Path(file).write_bytes(archive.getvalue()))
    target = tmp_path / "bundle"
    rows = bundle.build_bundle(target, ["mobilenet_v2"], progress=False, tfhub=False, dataset_names=["tiny"])
    assert {"path": "dataset: tiny", "bytes": 6, "verified": "sha256 of every file"} in rows
    listed = assets.read_manifest(target)
    assert "datasets/tiny/train/ants/a.jpg" in listed and "datasets/tiny/val/bees/b.jpg" in listed
    monkeypatch.setenv(assets.OFFLINE_ENV, str(target))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    assert datasets.fetch_dataset("tiny") == target / "datasets" / "tiny"
