"""Every file the course needs, fetched once: offline folder first, then cache, then download.

The table of assets (path, hash, canonical URL) lives in ``assets.tsv`` beside this file.
``fetch("images/samples/coral-cat.bmp")`` returns a local path to that file:

1. **Offline asset folder** -- if ``GOING_DEEPER_ASSETS`` names a folder that holds
   the file at the same relative path, that file is used as it is (a workshop USB
   stick, or ``../shared/assets`` in tests).
2. **Cache** -- ``GOING_DEEPER_CACHE`` (default: the OS cache folder, e.g.
   ``~/.cache/going-deeper``), filled by earlier downloads.
3. **Download** with :mod:`pooch`: streamed to a temporary file inside the cache,
   checked against the known hash, then renamed into place. A failed, truncated,
   interrupted or corrupt download leaves nothing behind, so the cache is never
   poisoned.

Set ``GOING_DEEPER_NO_DOWNLOAD=1`` to forbid step 3 (the tests do: they prove the
course runs from the offline folder alone).
"""

from __future__ import annotations

import csv
import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pooch
from pooch.hashes import hash_matches

OFFLINE_ENV = "GOING_DEEPER_ASSETS"
CACHE_ENV = "GOING_DEEPER_CACHE"
NO_DOWNLOAD_ENV = "GOING_DEEPER_NO_DOWNLOAD"
MANIFEST = Path(__file__).with_name("assets.tsv")


class AssetError(RuntimeError):
    """An asset could not be found or downloaded; the message says what to do."""


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


def offline_dir() -> Path | None:
    """The offline asset folder named by ``GOING_DEEPER_ASSETS``, or None."""
    folder = os.environ.get(OFFLINE_ENV)
    if not folder:
        return None
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise AssetError(
            f"{OFFLINE_ENV}={folder} is not a folder. Point it at your offline asset folder "
            f"(the one holding keras/ and images/), or unset it to download instead."
        )
    return folder


def cache_dir() -> Path:
    """Where downloads are kept: ``GOING_DEEPER_CACHE`` or the OS cache folder."""
    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("going-deeper")).expanduser()


def fetch(path: str, *, progress: bool = True) -> Path:
    """Return a local copy of the asset ``path`` (see the module docstring for the order)."""
    try:
        asset = registry()[path]
    except KeyError:
        raise AssetError(f"Unknown asset {path!r}: it is not listed in {MANIFEST}.") from None

    folder = offline_dir()
    if folder is not None and (folder / path).is_file():
        return folder / path

    cached = cache_dir() / path
    if cached.is_file() and hash_matches(cached, asset.known_hash):
        return cached
    if os.environ.get(NO_DOWNLOAD_ENV):
        raise AssetError(
            f"Asset {path!r} is not in the offline folder ({folder}) nor in the cache "
            f"({cache_dir()}), and downloads are disabled by {NO_DOWNLOAD_ENV}. "
            f"Add the file to the offline folder or unset {NO_DOWNLOAD_ENV}."
        )
    return _download(asset, cached, progress)


def _download(asset: Asset, target: Path, progress: bool) -> Path:
    try:
        # pooch streams into a temporary file in the same folder and renames it
        # only once the hash matches; on any error the temporary file is deleted.
        return Path(
            pooch.retrieve(
                asset.url,
                known_hash=asset.known_hash,
                fname=target.name,
                path=target.parent,
                progressbar=progress,
                downloader=pooch.HTTPDownloader(progressbar=progress, timeout=30),
            )
        )
    except Exception as error:  # requests' network/HTTP errors, pooch's hash mismatch
        raise AssetError(
            f"Could not download asset {asset.path!r} from {asset.url}: {error}\n"
            f"Nothing was saved in the cache ({cache_dir()}). Check your internet connection "
            f"and try again, or use an offline asset folder: set {OFFLINE_ENV}=/path/to/folder "
            f"holding {asset.path}."
        ) from error


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
        return folder / prefix
    for path in paths:
        cached = cache_dir() / path
        if cached.is_file() and hash_matches(cached, registry()[path].known_hash):
            continue  # gathered by an earlier call
        local = fetch(path, progress=progress)
        if local != cached:  # found in a partial offline folder: copy it beside the others
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(cached.name + ".part")
            shutil.copyfile(local, partial)
            partial.replace(cached)  # atomic: never a half-copied file in the cache
    return cache_dir() / prefix


def fetch_all(prefixes: list[str] | tuple[str, ...] = ("",), *, progress: bool = True) -> list[Path]:
    """Fetch every asset whose path starts with one of ``prefixes`` (all of them by default)."""
    return [fetch(p, progress=progress) for p in registry() if p.startswith(tuple(prefixes))]
