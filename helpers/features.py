"""Photos -> backbone features, batched and cached on disk.

Each photo's features are stored under the cache folder, keyed by everything they
depend on: the photo's content (sha256), the backbone, its weights file (sha256,
computed once per process), the Keras and Pillow versions, :data:`FEATURE_FORMAT`
(the decoding/crop/resize code) and the layer. A re-run is instant and does no model
work at all -- the network is not even built when every photo is cached.

A damaged cache entry is deleted and computed again (with a warning); a cache that
cannot be written (read-only, disk full) gives the features uncached, with a warning.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import PIL
from tqdm.auto import tqdm

from . import assets, backbones, files, images
from .environment import CACHE_ENV

__all__ = ["BATCH_SIZE", "FEATURE_FORMAT", "LOGITS", "cache_folder", "compute_features", "content_hash", "featurize"]

LOGITS = backbones.LOGITS  # "predictions": the 1000 logits (load_logits_model strips the softmax)
# Bump when the photo -> model input code changes (decoding, crop, resize, preprocessing):
# features cached by an older version are then computed again, never mixed with new ones.
FEATURE_FORMAT = 2
# Photos per model call. On a CPU, 8 runs within 10% of 32's speed, and the memory the
# activations of one batch take stays with the kernel afterwards: about 0.2 GiB for 8 photos
# on Inception V3 against 0.45 GiB for 27 (notebook 3's peak: 1.83 GiB instead of 2.08).
BATCH_SIZE = 8
content_hash = images.content_hash  # sha256 of a file's bytes: the key survives renames and catches edits


def cache_folder(backbone: backbones.Backbone) -> Path:
    """The cache folder of one backbone with its current weights file, libraries and feature format."""
    # Hashed like its published hash (memoized: a verified file is not read twice); else sha256.
    known_hash = assets.registry()[backbone.weights].known_hash
    weights = files.file_digest(backbones.weights_file(backbone), (known_hash or "sha256").split(":")[0])[:16]
    key = f"weights-{weights}_keras-{keras.__version__}_pillow-{PIL.__version__}_format-{FEATURE_FORMAT}"
    return assets.cache_dir() / "features" / backbone.name / key


def _cache_file(folder: Path, layer: str, digest: str) -> Path:
    return folder / layer / f"{digest}.npy"


@functools.cache
def _feature_model(backbone: backbones.Backbone, layers: tuple[str, ...], cache_key: str = ""):
    # cache_key (the cache folder's name) only keys this memo: a replaced weights file gets a new model
    return backbones.multi_layer_model(backbones.load_logits_model(backbone), list(layers))


def featurize(
    paths,
    layers=(LOGITS,),
    backbone: str | backbones.Backbone | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Features of every photo in ``paths`` for each layer: ``{layer: (n, dim) array}``.

    ``layers`` are layer names of the backbone's logits model; ``"predictions"`` is
    the 1000 logits and ``"pooled"`` the pooled features below them; other layers'
    feature maps are averaged to one vector per photo, except ``backbones.feature_map(layer)``,
    kept whole (``(n, height, width, channels)``). Photos are
    centre-cropped and resized to the backbone's input. Copies of a photo (same
    content) are computed once and get the very same features.

    Each file's hash looks its features up; features computed are stored under the hash
    of the very bytes decoded. A photo replaced in between (a synced folder, a re-upload)
    gets the features of what was decoded, cached under its new content: the old photo's
    hash never leads to another photo's features.
    """
    spec = backbones.get_backbone(backbone)
    layers, paths = tuple(layers), [Path(p) for p in paths]
    digests = [content_hash(p) for p in paths]  # to look the cache up; what is computed is keyed by what is decoded
    folder = cache_folder(spec)
    rows = {}  # (layer, digest) -> features
    for _ in range(3):  # a file replaced after it was hashed is computed as decoded; again if a copy remains
        first = {}  # digest -> index of its first path: copies are computed once
        for index, digest in enumerate(digests):
            first.setdefault(digest, index)
        rows.update({
            (layer, digest): row
            for digest in first for layer in layers
            if (layer, digest) not in rows and (row := _load_cached(_cache_file(folder, layer, digest))) is not None
        })
        missing = [d for d in first if not all((layer, d) in rows for layer in layers)]
        if not missing:
            return {layer: np.stack([rows[layer, d] for d in digests]) for layer in layers}
        computed, decoded = _compute_and_store(spec, layers, [paths[first[d]] for d in missing], folder,
                                               batch_size, progress)
        rows.update(computed)
        for digest, decoded_digest in zip(missing, decoded):
            digests[first[digest]] = decoded_digest  # differs only if the file changed since it was hashed
    changing = [str(paths[first[d]]) for d in missing]
    raise images.ImageError(f"{', '.join(changing[:3])}: changed while being read, again and again (a folder "
                            f"being synced or copied?). Run this again once it is complete.")


def _load_cached(file: Path) -> np.ndarray | None:
    """A cached feature vector, or None if there is none; a damaged one is deleted, with a warning."""
    if not file.is_file():
        return None
    try:
        row = np.load(file, allow_pickle=False)
        if row.ndim in (1, 3) and row.dtype.kind == "f" and np.isfinite(row).all():  # a vector, or a feature map
            return row
        problem = f"not a finite feature vector: shape {row.shape}, dtype {row.dtype}"
    except (OSError, ValueError, EOFError) as error:  # truncated, or not a .npy file at all
        problem = str(error)
    warnings.warn(f"{file}: damaged cached features ({problem}); deleted and computed again.", stacklevel=3)
    with contextlib.suppress(OSError):  # a read-only cache: it is overwritten, or left, and computed again
        file.unlink()
    return None


def _compute_and_store(spec, layers, paths, folder, batch_size, progress) -> tuple[dict, list[str]]:
    """Run the model on ``paths``: ``{(layer, digest): features}`` and each photo's digest.

    The digest is that of the bytes decoded (the file is read once), so a photo replaced
    meanwhile is cached under its new content, never under the old one. The features are
    cached when the disk lets us.
    """
    model = _feature_model(spec, layers, folder.name)
    rows, digests, writable = {}, [], True
    # delay: the bar is first drawn after a batch is done (none at all for work under a second), so a
    # notebook saved or shown statically never keeps a bar stuck at 0% (its text is frozen when drawn)
    with tqdm(total=len(paths), desc=f"{spec.title} features", unit="img", disable=not progress, delay=1) as bar:
        for _, outputs, batch_digests in compute_features(model, spec, paths, batch_size):
            outputs = {layer: np.asarray(outputs[layer]) for layer in layers}
            for layer in layers:
                backbones.check_finite(outputs[layer], spec)  # before anything of this batch is cached
            for layer in layers:
                for digest, row in zip(batch_digests, outputs[layer]):
                    rows[layer, digest] = row
                    writable = writable and _save_or_warn(_cache_file(folder, layer, digest), row)
            digests += batch_digests
            bar.update(len(batch_digests))
    return rows, digests


def _save_or_warn(file: Path, row: np.ndarray) -> bool:
    """Cache one feature vector; on a read-only or full disk, warn (once per call) and go on uncached."""
    try:
        with files.atomic_write(file) as temporary:  # unique temporaries: two kernels may share the cache
            np.save(temporary, row)
        return True
    except OSError as error:
        warnings.warn(
            f"Could not write the feature cache in {file.parents[1]} ({error.strerror or error}): the features "
            f"are returned but not cached, so they are computed again next time. Free some disk space, or set "
            f"{CACHE_ENV} to a writable folder.", stacklevel=4,
        )
        return False


def compute_features(model, spec, paths, batch_size: int = BATCH_SIZE, workers: int = 2):
    """Yield ``(start index, model outputs, digests)`` batch by batch: files -> model input -> model.

    ``workers`` threads read and decode the photos (Pillow and NumPy release the GIL)
    straight into the next batch's array while the model works on this one; their memory
    together stays within ``images.DECODE_BUDGET``. The first batch, with the model still
    idle, gets every worker: for a folder that fits in one batch, like the course's 27 cars,
    that is the whole job. ``digests`` are the sha256 of the bytes each photo was decoded
    from (each file is read once): the key its features may be cached under.
    """
    size = spec.input_size

    def load_into(batch, index, path):
        data = images.read_photo(path)
        batch[index] = spec.preprocess(images.model_input(data, str(path), size))
        return images.bytes_hash(data)

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def start_loading(start):
            chunk = paths[start : start + batch_size]
            batch = np.empty((len(chunk), size, size, 3), np.float32)
            return batch, [pool.submit(load_into, batch, i, path) for i, path in enumerate(chunk)]

        pending = start_loading(0)
        for start in range(0, len(paths), batch_size):
            batch, loads = pending
            digests = [load.result() for load in loads]  # a bad photo's ImageError, naming the file, is raised here
            if start + batch_size < len(paths):
                pending = start_loading(start + batch_size)
            yield start, model.predict_on_batch(batch), digests
