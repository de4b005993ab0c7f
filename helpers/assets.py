"""Every file the course needs, fetched once: offline folder first, then cache, then download.

The table of assets (path, hash, canonical URL) lives in ``assets.tsv`` beside this file.
``fetch("images/samples/coral-cat.bmp")`` returns a local path to that file:

1. **Offline asset folder** -- if ``GOING_DEEPER_ASSETS`` names a folder that holds
   the file at the same relative path, that file is used (a workshop USB stick, or
   ``../shared/assets`` in tests). A folder built by :mod:`helpers.bundle` carries a
   manifest (size and sha256 of every file); a file that does not match it is an error
   naming the file. A file the manifest does not list (or any file, in a folder without
   one) is checked against the hash ``assets.tsv`` publishes for it, once per process:
   a mismatch is a warning naming the file (a damaged weights file still loads, and
   labels every photo alike), not an error, since a folder may hold re-saved copies
   whose bytes differ on purpose.
2. **Cache** -- ``GOING_DEEPER_CACHE`` (default: the OS cache folder, e.g.
   ``~/.cache/going-deeper``), filled by earlier downloads.
3. **Download** with :mod:`pooch`'s HTTP downloader: streamed to a hidden temporary
   file beside the target, checked against the known hash (or, where the publisher
   gives none, opened as what it should be: an error page or a truncated HDF5 file
   is refused), then renamed into place. A failed, truncated, interrupted or
   corrupt download leaves nothing the course would read, so the cache is never
   poisoned.

Set ``GOING_DEEPER_NO_DOWNLOAD=1`` to forbid step 3 (the tests do: they prove the
course runs from the offline folder alone).
"""

from __future__ import annotations

import csv
import errno
import functools
import json
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pooch
from pooch.hashes import hash_matches

from . import files
from .environment import CACHE_ENV, NO_DOWNLOAD_ENV, OFFLINE_ENV

__all__ = ["AssetError", "AssetWarning", "Asset", "BUNDLE_MANIFEST", "COURSE_DIR", "LEFTOVER", "MANIFEST",
           "cache_dir", "content_problem", "damaged_file_advice", "downloads_disabled", "fetch", "fetch_all",
           "fetch_folder", "is_intact", "local_copy", "manifest_mismatches", "matches_hash", "offline_dir",
           "read_manifest", "registry", "warn_if_not_published", "write_manifest"]

MANIFEST = Path(__file__).with_name("assets.tsv")
BUNDLE_MANIFEST = "bundle-manifest.tsv"  # path, bytes, sha256 of every file in a bundle
# Where the README's commands run (with the editable install): a relative GOING_DEEPER_ASSETS
# is also looked up from here, since Jupyter runs the notebooks from notebooks/.
COURSE_DIR = Path(__file__).resolve().parents[1]
# Temporary files a killed download left: ours (hidden), and pooch's and older versions' (not hidden).
LEFTOVER = re.compile(rf"{files.TEMPORARY.pattern}|^\..+\.download$|^tmp[a-z0-9_]{{8}}$|\.part(\.npy)?$")


class AssetError(RuntimeError):
    """An asset could not be found or downloaded; the message says what to do."""


class AssetWarning(UserWarning):
    """An asset is used but may be damaged; the message names it and says what to do."""


@dataclass(frozen=True)
class Asset:
    path: str  # relative path, the same in the cache and in an offline folder
    known_hash: str | None  # "sha256:..." or "md5:..."; None where the publisher gives none
    url: str


@functools.cache
def registry() -> dict[str, Asset]:
    """All assets, keyed by relative path (read from ``assets.tsv``)."""
    with MANIFEST.open(newline="") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        return {
            row["path"]: Asset(row["path"], None if row["hash"] == "-" else row["hash"], row["url"])
            for row in rows
        }


def downloads_disabled() -> bool:
    """True if ``GOING_DEEPER_NO_DOWNLOAD`` is set to anything but ``0``/``false``/``no``/``off``."""
    return os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def offline_dir() -> Path | None:
    """The offline asset folder named by ``GOING_DEEPER_ASSETS``, or None."""
    setting = os.environ.get(OFFLINE_ENV, "").strip()
    if not setting:
        return None
    folder = Path(setting).expanduser()
    candidates = [folder] if folder.is_absolute() else [folder, COURSE_DIR / folder]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    looked = " nor ".join(str(c.resolve()) for c in candidates)
    raise AssetError(
        f"{OFFLINE_ENV}={setting} is not a folder (looked for {looked}). Point it at your offline "
        f"asset folder (the one holding keras/ and images/), preferably as an absolute path, "
        f"or unset it to download instead."
    )


def cache_dir() -> Path:
    """Where downloads are kept: ``GOING_DEEPER_CACHE`` or the OS cache folder."""
    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("going-deeper")).expanduser()


def local_copy(path: str) -> Path | None:
    """Where the asset ``path`` is on this machine (offline folder or cache), without any checks or download."""
    folder = offline_dir()
    for root in ([folder] if folder else []) + [cache_dir()]:
        if (root / path).is_file():
            return root / path
    return None


def damaged_file_advice(file: Path) -> str:
    """What to do about a damaged asset file, depending on where it is."""
    folder = offline_dir()
    if folder is not None and Path(file).resolve().is_relative_to(folder):
        return (f"Copy it again from the original offline folder, or rebuild the folder with "
                f"`python -m helpers.bundle {folder}`.")
    return "Delete it and run again: a fresh copy is downloaded."


def fetch(path: str, *, progress: bool = True) -> Path:
    """Return a local copy of the asset ``path`` (see the module docstring for the order)."""
    try:
        asset = registry()[path]
    except KeyError:
        raise AssetError(f"Unknown asset {path!r}: it is not listed in {MANIFEST}.") from None

    folder = offline_dir()
    if folder is not None and (folder / path).is_file():
        mismatches = manifest_mismatches(folder, path)
        if mismatches:
            raise AssetError(f"{folder / path}: {mismatches[0]}, so the file is damaged. "
                             f"{damaged_file_advice(folder / path)}")
        if path not in read_manifest(folder):  # no bundle vouches for it: its published hash does
            warn_if_not_published(folder / path, asset)
        return folder / path

    cached = cache_dir() / path
    if cached.is_file() and is_intact(cache_dir(), asset):
        return cached
    if downloads_disabled():
        raise AssetError(
            f"Asset {path!r} is not in the offline folder ({folder}) nor in the cache "
            f"({cache_dir()}), and downloads are disabled by {NO_DOWNLOAD_ENV}. "
            f"Add the file to the offline folder or unset {NO_DOWNLOAD_ENV}."
        )
    return _download(asset, cached, progress)


def is_intact(root: Path, asset: Asset) -> bool:
    """Whether ``root/asset.path`` is a good copy: its known hash, else its bundle manifest and its content."""
    file = root / asset.path
    if asset.known_hash:
        return matches_hash(file, asset.known_hash)
    return not manifest_mismatches(root, asset.path) and content_problem(file) is None


def _download(asset: Asset, target: Path, progress: bool) -> Path:
    files.sweep_leftovers(target.parent, LEFTOVER)
    try:
        with files.atomic_write(target) as partial:
            # pooch's downloader streams into our temporary file (pooch.retrieve would put a
            # visible tmpXXXX beside the photos and print developer advice to learners).
            pooch.HTTPDownloader(progressbar=progress, timeout=30)(asset.url, partial.name, None)
            hash_matches(partial.name, asset.known_hash, strict=True, source=asset.url)
            problem = content_problem(Path(partial.name), Path(asset.path).suffix)
            if problem:
                raise ValueError(f"the server sent something else: {problem}")
        return target
    except Exception as error:  # requests' network/HTTP errors, a hash mismatch, an error page
        if _disk_full(error):
            raise AssetError(
                f"Could not save asset {asset.path!r}: the disk is full ({target.parent}). Nothing was saved: "
                f"free some space on that disk, or set {CACHE_ENV} to a folder on a disk with room, and run again."
            ) from error
        raise AssetError(
            f"Could not download asset {asset.path!r} from {asset.url}: {error}\n"
            f"Nothing was saved in the cache ({cache_dir()}). Check your internet connection "
            f"and try again, or use an offline asset folder: set {OFFLINE_ENV}=/path/to/folder "
            f"holding {asset.path}."
        ) from error


def _disk_full(error: BaseException | None) -> bool:
    """Whether ``error``, or an error that led to it, is a full disk (or a used-up disk quota)."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        error = error.__cause__ or error.__context__
    return False


# --- checking files ------------------------------------------------------------------------

def matches_hash(file: str | Path, known_hash: str) -> bool:
    """Whether ``file`` has the hash ``known_hash`` (``"sha256:..."``, ``"md5:..."``; no prefix: sha256)."""
    algorithm, _, expected = known_hash.rpartition(":")
    return files.file_digest(file, algorithm or "sha256") == expected.lower()


def warn_if_not_published(file: Path, asset: Asset) -> None:
    """Warn if ``file`` does not match the hash ``assets.tsv`` publishes for ``asset`` (if it publishes one).

    Checked, and warned about, once per process for each version (size, mtime) of the file.
    """
    if asset.known_hash:
        stat = os.stat(file)
        _warn_if_not_published(str(file), asset.path, asset.known_hash, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _warn_if_not_published(file: str, path: str, known_hash: str, size: int, mtime_ns: int) -> None:
    if not matches_hash(file, known_hash):
        algorithm = known_hash.rpartition(":")[0] or "sha256"
        weights = " (damaged weights still load, and give nonsense labels)" if path.endswith(".h5") else ""
        warnings.warn(
            f"{file}: does not match the {algorithm} that {MANIFEST.name} publishes for {path}, so it "
            f"is damaged or another version of the file, and what the course computes from it may be "
            f"wrong{weights}. {damaged_file_advice(Path(file))}", AssetWarning, stacklevel=4)


def content_problem(file: Path, suffix: str | None = None) -> str | None:
    """Why ``file`` is not a sound file of its kind (None if it is): for files with no published hash.

    Catches what a download can leave instead of the file: an empty file, a web page
    (a captive portal or an error page served with status 200), a truncated HDF5
    (weights), JSON or zip (``.npz``) file. The kind is ``suffix`` (default: the
    file's own). Checked once per version of the file.
    """
    stat = os.stat(file)
    return _content_problem(str(file), (suffix or Path(file).suffix).lower(), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _content_problem(file: str, suffix: str, size: int, mtime_ns: int) -> str | None:
    if size == 0:
        return "it is empty (0 bytes)"
    with open(file, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "it is a web page (an error or login page?), not the file"
    try:
        if suffix == ".h5":
            import h5py  # a Keras dependency

            h5py.File(file, "r").close()  # HDF5 records its own length: truncation fails here
        elif suffix == ".json":
            json.loads(Path(file).read_text(encoding="utf-8"))
        elif suffix in (".npz", ".zip"):
            with zipfile.ZipFile(file) as archive:
                archive.infolist()  # reads the central directory at the very end of the file
    except Exception as error:
        return f"it is not a readable {suffix} file ({type(error).__name__}: {error})"
    return None


# --- bundle manifests ------------------------------------------------------------------------

def read_manifest(root: Path) -> dict[str, tuple[int, str]]:
    """``{relative path: (bytes, sha256)}`` from the bundle manifest in ``root`` ({} if it has none)."""
    manifest = Path(root) / BUNDLE_MANIFEST
    if not manifest.is_file():
        return {}
    try:
        with manifest.open(newline="", encoding="utf-8") as f:
            return {row["path"]: (int(row["bytes"]), row["sha256"]) for row in csv.DictReader(f, delimiter="\t")}
    except (OSError, KeyError, TypeError, ValueError, csv.Error) as error:  # a damaged or hand-edited manifest
        reason = f"no {error.args[0]!r} column" if isinstance(error, KeyError) else f"{type(error).__name__}: {error}"
        raise AssetError(f"{manifest}: not a bundle manifest the course can read ({reason}). Copy the folder again "
                         f"from the original, or rebuild it: `python -m helpers.bundle {root}`.") from None


def write_manifest(root: Path, paths) -> Path:
    """Write the bundle manifest of ``root``: size and sha256 of each of ``paths`` (relative to it)."""
    root = Path(root)
    with files.atomic_write(root / BUNDLE_MANIFEST, "w") as f:
        f.write("path\tbytes\tsha256\n")
        for path in sorted(paths):
            f.write(f"{path}\t{(root / path).stat().st_size}\t{files.file_digest(root / path)}\n")
    return root / BUNDLE_MANIFEST


def manifest_mismatches(root: Path, under: str) -> list[str]:
    """How the files the manifest of ``root`` lists at or below ``under`` differ from it ([] if none)."""
    problems = []
    for path, (size, sha256) in read_manifest(root).items():
        if path != under and not path.startswith(under.rstrip("/") + "/"):
            continue
        file = Path(root) / path
        if not file.is_file():
            problems.append(f"{path} is missing (the bundle manifest lists it)")
        elif file.stat().st_size != size:
            problems.append(f"{path} has {file.stat().st_size} bytes where the bundle manifest says {size}")
        elif files.file_digest(file) != sha256:
            problems.append(f"{path} does not match the sha256 in the bundle manifest")
    return problems


# --- folders -------------------------------------------------------------------------------

def fetch_folder(prefix: str, *, progress: bool = True) -> Path:
    """Fetch every asset under ``prefix`` (e.g. ``"images/cars"``) and return that folder.

    The files of one folder must sit side by side (the image-folder loader reads
    the folder), so the offline folder is used only if it holds all of them;
    otherwise they are all gathered in the cache.
    """
    prefix = prefix.rstrip("/")
    paths = [p for p in registry() if p.startswith(prefix + "/")]
    if not paths:
        raise AssetError(f"No asset is listed under {prefix!r} in {MANIFEST}.")
    folder = offline_dir()
    if folder is not None and all((folder / p).is_file() for p in paths):
        for path in paths:
            fetch(path, progress=progress)  # checks each file against the bundle manifest
        return folder / prefix
    for path in paths:
        cached = cache_dir() / path
        if cached.is_file() and is_intact(cache_dir(), registry()[path]):
            continue  # gathered by an earlier call
        local = fetch(path, progress=progress)
        if local != cached:  # found in a partial offline folder: copy it beside the others
            files.copy_atomically(local, cached)
    for subfolder in {(cache_dir() / p).parent for p in paths}:
        files.sweep_leftovers(subfolder, LEFTOVER)
    return cache_dir() / prefix


def fetch_all(prefixes: list[str] | tuple[str, ...] = ("",), *, progress: bool = True) -> list[Path]:
    """Fetch every asset whose path starts with one of ``prefixes`` (all of them by default)."""
    return [fetch(p, progress=progress) for p in registry() if p.startswith(tuple(prefixes))]
