"""Photo datasets: a folder per class on disk, and datasets published as one zip archive.

``load_image_folder("cars")`` finds a folder-per-class dataset's photos: sub-folder names are the labels,
loose photos in the top folder are unlabelled test photos, as in the talk. Hidden files (``.DS_Store``,
macOS ``._photo.jpg`` shadows), ``Thumbs.db`` and ``desktop.ini`` are skipped silently; any other file
in a class folder must be a photo, else an :class:`~helpers.images.ImageError` names it.

``fetch_dataset("hymenoptera_data")`` returns a published dataset's folder (``train/``, ``val/``), looked up
in the same order as every other asset (:mod:`helpers.assets`):

1. **Offline asset folder**: ``$GOING_DEEPER_ASSETS/datasets/<name>/``, the archive already extracted;
2. **Cache**: ``$GOING_DEEPER_CACHE/datasets/<name>/``, extracted by an earlier download;
3. **Download** of the archive from its canonical URL, checked file by file and extracted safely.

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
import warnings
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pooch

from PIL import Image
from scipy.sparse.csgraph import connected_components

from . import assets, files
from .images import ImageError, content_hash, open_rgb, photo_suffixes

__all__ = ["DATASETS", "NEAR_DUPLICATE_BITS", "ImageFolder", "ZipDataset", "car_test_labels", "difference_hash",
           "duplicate_groups", "expected_files", "fetch_dataset", "image_files", "is_junk", "linked_groups",
           "load_image_folder", "near_duplicate_groups", "problems"]

CAR_TEST_LABELS = Path(__file__).with_name("car_test_labels.tsv")
MAX_FILE_BYTES = 20 * 2**20  # no photo in these datasets is near this: a bigger member is refused
IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
# Difference hashes (64 bits, see difference_hash) of a photo and its re-saved or resized copy
# differ in 0-2 bits; those of the course's 27 different cars in 16 or more.
NEAR_DUPLICATE_BITS = 6


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
        elif files.file_digest(file) != digest:
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
        with files.atomic_output(target) as folder:
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


# --- folder-per-class datasets -------------------------------------------------------------

@dataclass
class ImageFolder:
    """Photos found by :func:`load_image_folder`."""

    root: Path
    class_names: list[str]  # sorted sub-folder names
    paths: list[Path]  # labelled photos
    labels: np.ndarray  # index into class_names, one per path
    unlabelled: list[Path] = field(default_factory=list)  # loose photos in the top folder
    duplicates: list[list[Path]] = field(default_factory=list)  # groups of files with the same content
    near_duplicates: list[list[Path]] = field(default_factory=list)  # groups of photos that look the same

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}: {int((self.labels == i).sum())}" for i, n in enumerate(self.class_names))
        return f"ImageFolder({self.root}: {counts}; unlabelled: {len(self.unlabelled)})"


def load_image_folder(root: str | Path, min_classes: int = 2) -> ImageFolder:
    """Find labelled photos in ``root/<class name>/**`` and unlabelled ones in ``root/*``.

    A class folder's photos may sit in sub-folders of it, as with
    ``keras.utils.image_dataset_from_directory``. Only names and contents are
    checked here (decoding happens when the photos are used), but a non-image file,
    a broken link, an empty class folder, too few classes or one photo under two
    labels fail right away with a message that says how to fix the folder.
    Non-photo files at the top (a README) are skipped with a warning, and so are
    copies of a photo (same content) and near copies (a re-saved or resized copy: see
    :func:`near_duplicate_groups`) with a warning, since copies make leave-one-out
    accuracy look better than it is.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"{root}: no such folder. Give the folder that holds one sub-folder per class.")
    class_dirs = [p for p in _listing(root) if p.is_dir() and not is_junk(p)]
    if len(class_dirs) < min_classes:
        raise ImageError(
            f"{root}: found {len(class_dirs)} class folder(s) {[p.name for p in class_dirs]}; "
            f"a classifier needs at least {min_classes}. Make one sub-folder per class, "
            f"named after the class, and put its photos inside."
        )
    _check_distinct_folders(class_dirs)
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        photos = image_files(class_dir, recursive=True)
        if not photos:
            raise ImageError(
                f"{class_dir}: this class folder has no photos. Add some (10 or more work well) "
                f"or remove the folder."
            )
        paths += photos
        labels += [label] * len(photos)
    folder = ImageFolder(root, [p.name for p in class_dirs], paths, np.array(labels),
                         image_files(root, skip_non_images=True))
    folder.duplicates = _check_duplicates(folder)
    folder.near_duplicates = _check_near_duplicates(folder)
    return folder


def _check_distinct_folders(class_dirs: list[Path]) -> None:
    """A class folder that is a link to another class folder would make its photos two classes."""
    seen = {}
    for class_dir in class_dirs:
        real = class_dir.resolve()
        if real in seen:
            raise ImageError(
                f"{class_dir} and {seen[real]} are the same folder (one is a link to the other): its photos "
                f"would be two classes. Remove the link."
            )
        seen[real] = class_dir


def _check_duplicates(folder: ImageFolder) -> list[list[Path]]:
    """Groups of identical photos: an error if one photo has two labels, else a warning."""
    label_of = dict(zip(folder.paths, folder.labels.tolist()))
    groups = duplicate_groups(folder.paths + folder.unlabelled)
    for group in groups:
        one_per_label = {label_of[p]: p for p in reversed(group) if p in label_of}
        if len(one_per_label) > 1:
            first, second = sorted(one_per_label.values())[:2]
            raise ImageError(f"{first} and {second} are the same photo under two labels. "
                             f"Keep it in one class folder only.")
    return _warn_copies(folder, groups, "=", "photo(s) appear more than once (same content)", "copies")


def _check_near_duplicates(folder: ImageFolder) -> list[list[Path]]:
    """Groups of photos that look the same but are not the same file's content: a warning naming them."""
    exact = {path: i for i, group in enumerate(folder.duplicates) for path in group}
    groups = [group for group in near_duplicate_groups(folder.paths + folder.unlabelled)
              if len({exact.get(path, path) for path in group}) > 1]  # not merely exact copies (already reported)
    return _warn_copies(folder, groups, "~", "group(s) of photos look the same (re-saved, resized or recompressed "
                        "copies?)", "photos with nearly the same features")


def _warn_copies(folder: ImageFolder, groups: list[list[Path]], sign: str, what: str, held_out: str) -> list:
    """Warn that ``folder`` holds ``groups`` of copies (near copies), naming the first three; return them."""
    if groups:
        examples = "; ".join(f" {sign} ".join(str(p.relative_to(folder.root)) for p in g) for g in groups[:3])
        warnings.warn(f"{folder.root}: {len(groups)} {what}: {examples}{'; ...' if len(groups) > 3 else ''}. "
                      f"Copies make leave-one-out accuracy look better than it is (helpers.svm_classifier holds "
                      f"{held_out} out together); delete them if they are accidental.", stacklevel=4)
    return groups


def near_duplicate_groups(paths) -> list[list[Path]]:
    """Groups of photos whose :func:`difference_hash` differ in at most :data:`NEAR_DUPLICATE_BITS` bits.

    A photo saved again as JPEG, resized or recompressed has other bytes (a new
    content hash) but the same picture. Photos that cannot be decoded are left
    out here: they fail, named, when they are used.
    """
    paths = [Path(p) for p in paths]
    hashes = [difference_hash(p) for p in paths]
    readable = [i for i, h in enumerate(hashes) if h is not None]
    bits = np.array([hashes[i] for i in readable]).reshape(len(readable), -1)
    close = (bits[:, None, :] != bits[None, :, :]).sum(axis=2) <= NEAR_DUPLICATE_BITS
    members = defaultdict(list)
    for index, group in zip(readable, linked_groups(close)):
        members[group].append(paths[index])
    return [group for group in members.values() if len(group) > 1]


def linked_groups(close: np.ndarray) -> np.ndarray:
    """A group number per item, from a symmetric (n, n) boolean matrix of which items are close:
    items linked by a chain of close pairs share one (SciPy's connected components)."""
    return connected_components(np.asarray(close), directed=False)[1]


def difference_hash(path: str | Path) -> np.ndarray | None:
    """64 bits of a photo that survive re-saving and resizing: is each pixel of a 9x8 grey thumbnail
    brighter than its left neighbour? None if the photo cannot be decoded."""
    try:
        thumbnail = open_rgb(path, max_side=32).convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    except ImageError:
        return None
    pixels = np.asarray(thumbnail, dtype=np.int16)
    return (pixels[:, 1:] > pixels[:, :-1]).reshape(-1)


def duplicate_groups(paths) -> list[list[Path]]:
    """Groups of files with the same content (only files of equal size are hashed)."""
    by_size = defaultdict(list)
    for path in paths:
        by_size[Path(path).stat().st_size].append(Path(path))
    by_content = defaultdict(list)
    for same_size in (group for group in by_size.values() if len(group) > 1):
        for path in same_size:
            by_content[content_hash(path)].append(path)
    return [group for group in by_content.values() if len(group) > 1]


def is_junk(path: Path) -> bool:
    """Files the loaders skip on purpose: hidden files and OS thumbnails/settings."""
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def image_files(folder: str | Path, skip_non_images: bool = False, recursive: bool = False) -> list[Path]:
    """Sorted photo files in ``folder`` (and its sub-folders with ``recursive``); junk files are always skipped.

    Any other file -- not a photo, or a broken or looping link -- is an error naming it (a
    training folder should hold photos only), or, with ``skip_non_images`` (a folder of new
    photos to classify may hold a stray README), is skipped with a warning naming it.
    """
    photos, others, suffixes = [], [], photo_suffixes()
    for path in _entries(Path(folder), recursive, visited=frozenset()):
        (photos if path.suffix.lower() in suffixes and path.is_file() else others).append(path)
    for path in others:
        what = "a broken or looping link" if path.is_symlink() and not path.exists() else \
            f"not an image file (suffix {path.suffix or 'none'!r})"
        if not skip_non_images:
            raise ImageError(f"{path}: {what}. Move it out of {folder}: every file in a class folder is used as a photo.")
    if others and skip_non_images:
        warnings.warn(f"{folder}: skipped {len(others)} file(s) that are not photos: "
                      f"{', '.join(p.name for p in others[:5])}{', ...' if len(others) > 5 else ''}.", stacklevel=2)
    return photos


def _entries(folder: Path, recursive: bool, visited: frozenset) -> list[Path]:
    """Every non-junk file (or broken link) in ``folder``, sorted, following linked sub-folders but not loops."""
    real = folder.resolve()
    if real in visited:
        raise ImageError(f"{folder}: a link to a folder that contains it (a loop). Remove the link.")
    entries = []
    for path in _listing(folder):
        if is_junk(path):
            continue
        if path.is_dir():
            entries += _entries(path, recursive, visited | {real}) if recursive else []
        else:
            entries.append(path)
    return entries


def _listing(folder: Path) -> list[Path]:
    """The sorted contents of ``folder``; a folder that cannot be read is an :class:`ImageError`."""
    try:
        return sorted(folder.iterdir())
    except OSError as error:
        raise ImageError(f"{folder}: cannot list this folder ({error.strerror}). Check the path.") from None
