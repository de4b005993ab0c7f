"""Saving without losing, for writers that want a path: a file or a whole folder (a SavedModel).

>>> with atomic_output("outputs/cars.keras") as temporary:
...     model.save(temporary)             # any writer, given a path: a file or a folder

(For writers that take an open file, ``helpers.assets.atomic_write`` yields one.)
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

# A temporary folder untouched this long belongs to a write that was killed (an export takes minutes).
STALE_AFTER = 3600


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
        sweep_stale_temporaries(path)
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


def sweep_stale_temporaries(path: str | Path, older_than: float = STALE_AFTER) -> None:
    """Delete the temporary folders of writes of ``path`` that were killed (a kernel restarted mid-export).

    A killed write never reaches its cleanup: its hidden folder, up to ~100 MB for a
    SavedModel, would stay. Only folders untouched for ``older_than`` seconds go: a
    write in progress in another kernel keeps its own.
    """
    path = Path(path)
    for folder in path.parent.glob(f".{glob.escape(path.name)}.{'?' * 8}.tmp"):  # tempfile.mkdtemp's names
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete: left as it is
            if folder.is_dir() and not folder.is_symlink() and time.time() - folder.stat().st_mtime > older_than:
                shutil.rmtree(folder)


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
