"""TF Hub modules, the Keras 3 way: resolve a handle to a local SavedModel folder.

``keras.layers.TFSMLayer(resolve_module(), call_endpoint="serving_default")`` then
puts the module in a Keras 3 model (``hub.KerasLayer`` is a Keras 2 layer and cannot).

The handle is ``GOING_DEEPER_TFHUB_HANDLE`` (any handle or local SavedModel folder),
else the selected backbone's own feature-vector module. Like the other assets, a
module is looked up in ``<offline folder>/tfhub_modules`` first (used as it is), then
downloaded once by ``tensorflow_hub.resolve`` into ``<cache>/tfhub_modules``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path
from unittest import mock

from . import assets, backbones
from .environment import HANDLE_ENV

__all__ = ["CACHE_SUBDIR", "handle", "module_folder", "module_problem", "resolve_module"]

CACHE_SUBDIR = "tfhub_modules"


def handle(backbone: str | None = None) -> str:
    """The TF Hub handle (or local folder) to use for ``backbone``'s feature vectors."""
    return os.environ.get(HANDLE_ENV) or backbones.get_backbone(backbone).tfhub_handle


def module_folder(root: Path, module_handle: str) -> Path:
    """Where ``tensorflow_hub`` keeps a module under its cache ``root`` (sha1 of the handle)."""
    return root / CACHE_SUBDIR / hashlib.sha1(module_handle.encode("utf8")).hexdigest()


def module_problem(root: Path, module: Path) -> str | None:
    """Why ``module`` (under the offline folder or cache ``root``) cannot be used; None if it is complete.

    Complete means a SavedModel with its graph and its variables, and every file as the
    bundle manifest of ``root`` (if any) lists it: an interrupted or emptied download is not.
    """
    if not (module / "saved_model.pb").is_file() and not (module / "saved_model.pbtxt").is_file():
        return "no saved_model.pb in it: not a complete SavedModel"
    if not (module / "variables" / "variables.index").is_file() or not any((module / "variables").glob("variables.data-*")):
        return "its variables/ are missing or incomplete: not a complete SavedModel"
    if not module.is_relative_to(root):
        return None
    mismatches = assets.manifest_mismatches(root, module.relative_to(root).as_posix())
    return mismatches[0] if mismatches else None


def resolve_module(backbone: str | None = None, module_handle: str | None = None) -> str:
    """A local folder holding the module (``module_handle`` defaults to :func:`handle`)."""
    module_handle = module_handle or handle(backbone)
    if Path(module_handle).is_dir():
        return module_handle
    offline = assets.offline_dir()
    if offline is not None and module_folder(offline, module_handle).exists():
        module = module_folder(offline, module_handle)
        problem = module_problem(offline, module)
        if problem:
            raise assets.AssetError(f"TF Hub module {module}: {problem}. {assets.damaged_file_advice(module)}")
        return str(module)
    cached = module_folder(assets.cache_dir(), module_handle)
    if cached.exists() and module_problem(assets.cache_dir(), cached):
        shutil.rmtree(cached)  # an interrupted or damaged download: tensorflow_hub would take it as done
    if assets.downloads_disabled() and not cached.exists():
        raise assets.AssetError(
            f"TF Hub module {module_handle} is not in the offline folder ({offline}) nor in the cache "
            f"({assets.cache_dir() / CACHE_SUBDIR}), and downloads are disabled by {assets.NO_DOWNLOAD_ENV}. "
            f"Build the bundle with `python -m helpers.bundle` or unset it."
        )
    # Imported here: tensorflow_hub also loads tf_keras (Keras 2), which nothing else needs.
    with warnings.catch_warnings():
        # tensorflow_hub 0.16 imports pkg_resources, which setuptools deprecates (tensorflow/hub#934);
        # requirements.txt keeps a setuptools that still has it. Not the learner's concern.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tensorflow_hub

    try:
        # TF Hub's cache is the course's, for this call only: a learner's own setting stays.
        with mock.patch.dict(os.environ, {"TFHUB_CACHE_DIR": str(assets.cache_dir() / CACHE_SUBDIR)}):
            folder = tensorflow_hub.resolve(module_handle)
    except Exception as error:
        raise assets.AssetError(
            f"Could not download TF Hub module {module_handle}: {error}\nCheck your connection, or set "
            f"{assets.OFFLINE_ENV} to an offline folder built with `python -m helpers.bundle`."
        ) from error
    problem = module_problem(assets.cache_dir(), Path(folder))
    if problem:
        raise assets.AssetError(f"TF Hub module {folder}: {problem}. Delete the folder and run again.")
    return folder
