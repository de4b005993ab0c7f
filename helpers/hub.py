"""TF Hub modules, the Keras 3 way: resolve a handle to a local SavedModel folder.

``keras.layers.TFSMLayer(resolve_module(), call_endpoint="serving_default")`` then
puts the module in a Keras 3 model (``hub.KerasLayer`` is a Keras 2 layer and cannot).

The handle is ``GOING_DEEPER_TFHUB_HANDLE`` (any handle or local SavedModel folder),
else the selected backbone's own feature-vector module. Modules are cached like the
other assets: in ``<offline folder>/tfhub_modules`` if the offline folder has one,
else in ``<cache>/tfhub_modules``; nothing is fetched twice.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import assets, backbones

HANDLE_ENV = "GOING_DEEPER_TFHUB_HANDLE"
CACHE_SUBDIR = "tfhub_modules"


def handle(backbone: str | None = None) -> str:
    """The TF Hub handle (or local folder) to use for ``backbone``'s feature vectors."""
    return os.environ.get(HANDLE_ENV) or backbones.get_backbone(backbone).tfhub_handle


def module_cache() -> Path:
    """Where TF Hub modules are kept (TensorFlow Hub's TFHUB_CACHE_DIR)."""
    offline = assets.offline_dir()
    if offline is not None and (offline / CACHE_SUBDIR).is_dir():
        return offline / CACHE_SUBDIR
    return assets.cache_dir() / CACHE_SUBDIR


def resolve_module(backbone: str | None = None) -> str:
    """A local folder holding the module: downloaded (once) by ``tensorflow_hub.resolve``."""
    module = handle(backbone)
    if Path(module).is_dir():
        return module
    cache = module_cache()
    # tensorflow_hub names a cached module after the sha1 of its handle
    cached = cache / hashlib.sha1(module.encode("utf8")).hexdigest()
    if not cached.is_dir() and os.environ.get(assets.NO_DOWNLOAD_ENV):
        raise assets.AssetError(
            f"TF Hub module {module} is not in {cache}, and downloads are disabled by "
            f"{assets.NO_DOWNLOAD_ENV}. Build the bundle with `python -m helpers.bundle` or unset it."
        )
    os.environ["TFHUB_CACHE_DIR"] = str(cache)
    # Imported here: tensorflow_hub also loads tf_keras (Keras 2), which nothing else needs.
    import tensorflow_hub

    try:
        return tensorflow_hub.resolve(module)
    except Exception as error:
        raise assets.AssetError(
            f"Could not download TF Hub module {module}: {error}\nCheck your connection, or set "
            f"{assets.OFFLINE_ENV} to an offline folder built with `python -m helpers.bundle`."
        ) from error
