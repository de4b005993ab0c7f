"""Photo datasets published as one zip archive: fetched once, checked file by file, extracted safely.

``fetch_dataset("hymenoptera_data")`` returns a folder holding ``train/`` and ``val/``, looked up
in the same order as every other asset (:mod:`helpers.assets`):

1. **Offline asset folder**: ``$GOING_DEEPER_ASSETS/datasets/<name>/``, the archive already extracted;
2. **Cache**: ``$GOING_DEEPER_CACHE/datasets/<name>/``, extracted by an earlier download;
3. **Download** of the archive from its canonical URL.

The publisher gives no hash for the archive, so the course keeps the sha256 of every *extracted*
file (``<name>.sha256`` beside this module) and checks each one, wherever the folder comes from
(once per process per version of a file). After a download, only the files that list names are
taken from the archive, each read through a size limit into a hidden temporary folder, which is
renamed into place once all of them match. So an error page, a truncated zip, a different dataset
or a hostile archive (``../`` names, links, zip bombs) raises an :class:`~helpers.assets.AssetError`
and leaves the cache as it was: nothing from the archive is written where the course reads.
"""

from __future__ import annotations

import csv
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch

from . import assets
from .files import atomic_output

__all__ = ["DATASETS", "ZipDataset", "fetch_dataset", "expected_files", "problems", "car_test_labels"]

CAR_TEST_LABELS = Path(__file__).with_name("car_test_labels.tsv")
MAX_FILE_BYTES = 20 * 2**20  # no photo in these datasets is near this: a bigger member is refused


@dataclass(frozen=True)
class ZipDataset:
    name: str  # folder name, in the cache and in an offline folder (under datasets/)
    url: str  # canonical URL of the zip archive
    top_folder: str  # the folder the archive's files sit in
    manifest: Path  # "sha256  ./relative/path" for every file the dataset holds

    def describe(self) -> str:
        return f"dataset {self.name!r} ({self.url})"


DATASETS = {
    # PyTorch's transfer-learning tutorial set: ants vs bees, photos from ImageNet (notebook 5)
    "hymenoptera_data": ZipDataset(
        name="hymenoptera_data",
        url="https://download.pytorch.org/tutorial/hymenoptera_data.zip",
        top_folder="hymenoptera_data",
        manifest=Path(__file__).with_name("hymenoptera_data.sha256"),
    ),
}


def expected_files(dataset: ZipDataset) -> dict[str, str]:
    """``{relative path: sha256}`` of every file of the dataset, from its manifest."""
    files = {}
    for line in dataset.manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)  # sha256sum's format: "<hash>  ./<path>" (paths may hold spaces)
            files[path.strip().removeprefix("./")] = digest.lower()
    return files


def problems(folder: Path, expected: dict[str, str]) -> list[str]:
    """How ``folder`` differs from the expected files ([] when every file is there and matches)."""
    found = []
    for path, digest in expected.items():
        file = Path(folder) / path
        if not file.is_file():
            found.append(f"{file} is missing")
        elif assets.file_digest(file) != digest:
            found.append(f"{file} does not match its sha256")
    return found


def fetch_dataset(name: str, *, progress: bool = True) -> Path:
    """The extracted folder of the dataset ``name``, every file checked (see the module docstring)."""
    try:
        dataset = DATASETS[name]
    except KeyError:
        raise assets.AssetError(f"Unknown dataset {name!r}: choose one of {sorted(DATASETS)}.") from None
    expected = expected_files(dataset)

    offline = assets.offline_dir()
    if offline is not None and (offline / "datasets" / name).is_dir():
        folder = offline / "datasets" / name
        found = problems(folder, expected)
        if found:
            raise assets.AssetError(
                f"{folder}: {len(found)} of its {len(expected)} files are missing or damaged, e.g. {found[0]}. "
                f"{assets.damaged_file_advice(folder)}")
        return folder

    cached = assets.cache_dir() / "datasets" / name
    if cached.is_dir() and not problems(cached, expected):
        return cached
    if assets.downloads_disabled():
        raise assets.AssetError(
            f"The {dataset.describe()} is not in the offline folder ({offline}) nor in the cache ({cached.parent}), "
            f"and downloads are disabled by {assets.NO_DOWNLOAD_ENV}. Unset it, or put the extracted "
            f"folder at datasets/{name} in your offline folder.")
    _download_and_extract(dataset, expected, cached, progress)
    return cached


def _download(url: str, file: Path, progress: bool) -> None:
    """Stream ``url`` into ``file`` (replaced in the tests by a fake server)."""
    pooch.HTTPDownloader(progressbar=progress, timeout=30)(url, str(file), None)


def _download_and_extract(dataset: ZipDataset, expected: dict[str, str], target: Path, progress: bool) -> None:
    try:
        # atomic_output: a hidden folder beside the target, renamed into place only if the block succeeds
        with atomic_output(target) as folder:
            archive = folder.parent / "archive.zip"  # inside the hidden workspace: deleted with it
            _download(dataset.url, archive, progress)
            _extract_expected(archive, dataset.top_folder, expected, folder)
            found = problems(folder, expected)
            if found:
                raise ValueError(f"the archive is not the expected dataset: {len(found)} files differ, "
                                 f"e.g. {Path(found[0]).relative_to(folder.parent)}")
    except Exception as error:  # network errors, an error page, a truncated or hostile zip, a full disk
        raise assets.AssetError(
            f"Could not get the {dataset.describe()}: {error}\n"
            f"Nothing was kept in the cache ({target.parent}). Run the cell again to retry, or download the "
            f"zip yourself, extract it, and put its {dataset.top_folder}/ folder at datasets/{dataset.name} "
            f"in an offline asset folder ({assets.OFFLINE_ENV})."
        ) from error


def _extract_expected(archive: Path, top_folder: str, expected: dict[str, str], into: Path) -> None:
    """Copy the expected files out of ``archive`` into ``into``; nothing else in the archive is read.

    Output paths come from the manifest, never from the archive, so no member name (``../x``, ``/etc/x``)
    can write elsewhere; a link or a folder in the archive is not a regular file and is refused, and no
    member is read past :data:`MAX_FILE_BYTES` (a zip bomb stops there).
    """
    with zipfile.ZipFile(archive) as zipped:  # BadZipFile for an error page or a truncated download
        members = {info.filename: info for info in zipped.infolist()}
        for path in expected:
            info = members.get(f"{top_folder}/{path}")
            if info is None:
                raise ValueError(f"{top_folder}/{path} is not in the archive")
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0: none recorded (zips made on Windows)
            if info.is_dir() or file_type not in (0, stat.S_IFREG):  # a link, a device...
                raise ValueError(f"{info.filename} is not a regular file in the archive")
            with zipped.open(info) as source:
                data = source.read(MAX_FILE_BYTES + 1)  # whatever size the archive claims
            if len(data) > MAX_FILE_BYTES:
                raise ValueError(f"{info.filename} is larger than {MAX_FILE_BYTES // 2**20} MB: "
                                 f"not a photo of this dataset")
            (into / path).parent.mkdir(parents=True, exist_ok=True)
            (into / path).write_bytes(data)


def car_test_labels(paths, class_names: list[str], table: Path = CAR_TEST_LABELS) -> np.ndarray | None:
    """The class index of each of the talk's unlabelled car photos, from the labels the course gave them by eye.

    The 7 photos are the course's held-out test set (``data/README.md`` says why each is Classic or Modern).
    Returns None when ``paths`` are not all in the table (your own photos): there is no test set then.
    """
    with open(table, newline="", encoding="utf-8") as f:
        labels = {row["file"]: row["label"] for row in csv.DictReader((line for line in f if not line.startswith("#")),
                                                                       delimiter="\t")}
    names = [Path(p).name for p in paths]
    if not names or any(name not in labels or labels[name] not in class_names for name in names):
        return None
    return np.array([class_names.index(labels[name]) for name in names])
