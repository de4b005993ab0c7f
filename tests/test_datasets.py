"""helpers.datasets: a zip dataset from the offline folder, the cache or a (fake) download, checked file by file."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from helpers import assets, datasets

FILES = {"train/ants/a.jpg": b"ant photo", "train/bees/b b.jpg": b"bee photo", "val/ants/c.jpeg": b"another ant"}


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """A three-file dataset, with no offline folder and an empty cache."""
    manifest = tmp_path / "tiny.sha256"
    manifest.write_text("".join(f"{hashlib.sha256(data).hexdigest()}  ./{path}\n" for path, data in FILES.items()))
    spec = datasets.ZipDataset("tiny", "https://example.org/tiny.zip", "tiny", manifest)
    monkeypatch.setitem(datasets.DATASETS, "tiny", spec)
    monkeypatch.delenv(assets.OFFLINE_ENV, raising=False)
    monkeypatch.delenv(assets.NO_DOWNLOAD_ENV, raising=False)
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    return spec


def zip_bytes(files: dict[str, bytes], top="tiny", links=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(f"{top}/{path}" if top else path, data)
        for path in links:  # a symlink member: mode S_IFLNK in the high bits
            info = zipfile.ZipInfo(f"{top}/{path}")
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def serve(monkeypatch, payload: bytes) -> list[str]:
    """Replace the download with one that writes ``payload``; returns the list of URLs asked for."""
    asked = []

    def fake_download(url, file, progress):
        asked.append(url)
        Path(file).write_bytes(payload)

    monkeypatch.setattr(datasets, "_download", fake_download)
    return asked


def cache_files(tmp_path) -> list[str]:
    root = tmp_path / "cache"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_manifest_lists_every_file_of_ants_and_bees():
    expected = datasets.expected_files(datasets.DATASETS["hymenoptera_data"])
    counts = {}
    for path in expected:
        split, label, _ = path.split("/", 2)
        counts[split, label] = counts.get((split, label), 0) + 1
    assert counts == {("train", "ants"): 124, ("train", "bees"): 121, ("val", "ants"): 70, ("val", "bees"): 83}
    assert "train/ants/imageNotFound.gif" in expected and any(" " in p for p in expected)


def test_a_download_is_extracted_checked_and_kept(dataset, tmp_path, monkeypatch):
    asked = serve(monkeypatch, zip_bytes({**FILES, "extra/unlisted.txt": b"ignored"}))
    folder = datasets.fetch_dataset("tiny", progress=False)
    assert folder == tmp_path / "cache" / "datasets" / "tiny"
    assert {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == FILES
    assert datasets.fetch_dataset("tiny", progress=False) == folder and len(asked) == 1  # never fetched twice


@pytest.mark.parametrize("payload, reason", [
    (b"<!doctype html><title>Error 404</title>", "File is not a zip file"),
    (zip_bytes(FILES)[:-200], "zip"),  # truncated: the central directory is gone
    (zip_bytes({**FILES, "train/ants/a.jpg": b"something else"}), "files differ"),
    (zip_bytes({k: v for k, v in FILES.items() if "bees" not in k}), "not in the archive"),
    (zip_bytes(FILES, top="other"), "not in the archive"),
])
def test_a_bad_download_leaves_the_cache_as_it_was(dataset, tmp_path, monkeypatch, payload, reason):
    serve(monkeypatch, payload)
    with pytest.raises(assets.AssetError, match="Nothing was kept in the cache") as error:
        datasets.fetch_dataset("tiny", progress=False)
    assert reason in str(error.value)
    assert cache_files(tmp_path) == []  # no partial folder, no archive, no hidden workspace
    assert [p.name for p in (tmp_path / "cache" / "datasets").iterdir()] == []


def test_a_hostile_archive_writes_nothing_outside(dataset, tmp_path, monkeypatch):
    hostile = {**FILES, "../../escaped.txt": b"x", "/tmp/absolute.txt": b"x"}
    serve(monkeypatch, zip_bytes(hostile))
    datasets.fetch_dataset("tiny", progress=False)  # the listed files are fine: the rest is never read
    assert not (tmp_path / "escaped.txt").exists() and not list(tmp_path.rglob("escaped.txt"))


def test_a_link_member_is_refused(dataset, tmp_path, monkeypatch):
    files = {k: v for k, v in FILES.items() if k != "val/ants/c.jpeg"}
    serve(monkeypatch, zip_bytes(files, links=["val/ants/c.jpeg"]))
    with pytest.raises(assets.AssetError, match="not a regular file"):
        datasets.fetch_dataset("tiny", progress=False)
    assert cache_files(tmp_path) == []


def test_a_zip_bomb_stops_at_the_size_limit(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_FILE_BYTES", 1000)
    serve(monkeypatch, zip_bytes({**FILES, "train/ants/a.jpg": b"\0" * 100_000}))
    with pytest.raises(assets.AssetError, match="larger than"):
        datasets.fetch_dataset("tiny", progress=False)
    assert cache_files(tmp_path) == []


def test_a_damaged_cache_is_fetched_again(dataset, tmp_path, monkeypatch):
    asked = serve(monkeypatch, zip_bytes(FILES))
    folder = datasets.fetch_dataset("tiny", progress=False)
    (folder / "train/ants/a.jpg").write_bytes(b"edited")
    assert datasets.fetch_dataset("tiny", progress=False) == folder and len(asked) == 2
    assert (folder / "train/ants/a.jpg").read_bytes() == FILES["train/ants/a.jpg"]


def test_the_offline_folder_comes_first_and_is_checked(dataset, tmp_path, monkeypatch):
    offline = tmp_path / "offline"
    for path, data in FILES.items():
        (offline / "datasets" / "tiny" / path).parent.mkdir(parents=True, exist_ok=True)
        (offline / "datasets" / "tiny" / path).write_bytes(data)
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    asked = serve(monkeypatch, b"")
    assert datasets.fetch_dataset("tiny", progress=False) == offline / "datasets" / "tiny" and asked == []
    (offline / "datasets" / "tiny" / "val/ants/c.jpeg").write_bytes(b"damaged")
    with pytest.raises(assets.AssetError, match=r"1 of its 3 files .*c\.jpeg does not match"):
        datasets.fetch_dataset("tiny", progress=False)


def test_no_download_when_downloads_are_disabled(dataset, monkeypatch):
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    asked = serve(monkeypatch, zip_bytes(FILES))
    with pytest.raises(assets.AssetError, match="downloads are disabled"):
        datasets.fetch_dataset("tiny", progress=False)
    assert asked == []


def test_an_unknown_dataset_names_the_known_ones():
    with pytest.raises(assets.AssetError, match="hymenoptera_data"):
        datasets.fetch_dataset("cats_vs_dogs")


def test_the_seven_cars_have_labels_and_the_readme_says_why():
    names = ["15047201644_e388398108_m.jpg", "16215614102_30e4497ac5_c.jpg", "4759251499_7d2ec43974_m.jpg",
             "6168412653_676dbda0ce_m.jpg", "6790397898_1d1f2033ec_prius.jpg", "8063941495_e029a072e4_c.jpg",
             "8847428500_6e6cfb5380_c.jpg"]
    labels = datasets.car_test_labels([Path("cars") / n for n in names], ["Classic", "Modern"])
    assert labels.tolist() == [1, 0, 1, 1, 1, 0, 0]
    readme = (Path(__file__).parents[1] / "data" / "README.md").read_text()
    for name, label in zip(names, labels):
        assert f"| `{name}` | {['Classic', 'Modern'][label]} |" in readme  # the table gives the same label, and why


def test_own_photos_have_no_test_labels():
    assert datasets.car_test_labels([Path("data/pianos/mystery.jpg")], ["grand", "upright"]) is None
    assert datasets.car_test_labels([], ["Classic", "Modern"]) is None
