"""Every file the course writes, written without losing: atomic files and folders, copies, the outputs folder;
and the one file hash (:func:`file_digest`: streamed, computed once per version of a file).

>>> with atomic_output(outputs_folder("cars.keras")) as temporary:
...     model.save(temporary)             # any writer, given a path: a file or a folder (a SavedModel)
>>> with atomic_write("cache/row.npy") as file:
...     np.save(file, row)                # any writer, given an open file
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pooch

__all__ = ["FILE_MODE", "STALE_AFTER", "TEMPORARY", "atomic_output", "atomic_write", "copy_atomically", "file_digest",
           "outputs_folder", "size_in_mb", "sweep_leftovers"]

# A temporary untouched this long belongs to a write that was killed (an export takes minutes).
STALE_AFTER = 3600
# The names of our temporaries (tempfile's: 8 random characters), hidden so that photo loaders skip them.
TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it, so put it straight back
    os.umask(mask)
    return mask


# Temporary files are created 0600; finished files get what the user's other files get (0644).
FILE_MODE = 0o666 & ~_read_umask()


def outputs_folder(*parts: str) -> Path:
    """``outputs/<parts...>`` (git ignores it) at the top of the course folder, else ./outputs (Colab)."""
    return Path("../outputs" if Path.cwd().name == "notebooks" else "outputs", *parts)


def size_in_mb(path: str | Path) -> float:
    """The size of a file, or of every file in a folder (a SavedModel), in MB (10^6 bytes)."""
    path = Path(path)
    return sum(f.stat().st_size for f in ([path] if path.is_file() else path.rglob("*")) if f.is_file()) / 1e6


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write to; when the block succeeds, it replaces ``path``.

    The temporary path has ``path``'s own name (writers that check the suffix, such as
    ``model.save``, accept it) inside a new hidden folder beside ``path``: unique, so two
    kernels saving at once never share it, and on the same disk, so the final rename is
    instant. On any error, Ctrl-C included, the temporary is deleted and ``path`` is left
    as it was; a full disk or a read-only folder becomes an ``OSError`` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_leftovers(path.parent)
        workspace = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        yield workspace / path.name
        _replace(workspace / path.name, path, workspace)
    except OSError as error:
        raise _write_error(path, error) from error
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


@contextlib.contextmanager
def atomic_write(target: str | Path, mode: str = "wb"):
    """Write ``target`` all at once: yields an open file, which replaces ``target`` when done.

    The file is a hidden temporary with a unique name in the same folder (two kernels
    writing at once never share one; the photo loaders skip hidden files); it becomes
    ``target`` with ``os.replace``, and gets the user's normal permissions. On any error
    it is removed, and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    file = tempfile.NamedTemporaryFile(mode, dir=target.parent, prefix=f".{target.name}.",
                                       suffix=".tmp", delete=False)
    try:
        with file:
            yield file
        os.chmod(file.name, FILE_MODE)
        os.replace(file.name, target)
    except BaseException:
        Path(file.name).unlink(missing_ok=True)
        raise


def copy_atomically(source: str | Path, target: str | Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` is never half-written."""
    with open(source, "rb") as original, atomic_write(target) as copy:
        shutil.copyfileobj(original, copy)


def sweep_leftovers(folder: str | Path, names: re.Pattern = TEMPORARY, older_than: float = STALE_AFTER) -> None:
    """Delete the temporaries (files or folders, named like ``names``) that killed writes left in ``folder``.

    A killed write never reaches its cleanup: its hidden file or folder (up to ~100 MB for a
    SavedModel) would stay. Only those untouched for ``older_than`` seconds go: a write in
    progress in another kernel keeps its own.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete: left as it is
            if names.search(entry.name) and not entry.is_symlink() and time.time() - entry.stat().st_mtime > older_than:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """The file's hash (streamed), computed once per process for each version (size, mtime) of the file."""
    stat = os.stat(path)
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, algorithm)


@functools.cache
def _digest(path: str, size: int, mtime_ns: int, algorithm: str) -> str:
    return pooch.file_hash(path, alg=algorithm)


def _replace(new: Path, path: Path, workspace: Path) -> None:
    if not new.exists():
        raise FileNotFoundError(f"nothing was written to {new}")
    if new.is_dir() and path.exists():
        # A folder cannot replace another in one step: the old one moves into the
        # workspace first (and is deleted with it), so a crash right here keeps it.
        os.replace(path, workspace / "previous")
    os.replace(new, path)


def _write_error(path: Path, error: OSError) -> OSError:
    reason = error.strerror or str(error)
    return OSError(
        f"{path}: could not be written ({reason}). Nothing was replaced: the previous version, "
        f"if any, is unchanged. Free some disk space, or choose a folder you can write to."
    )
