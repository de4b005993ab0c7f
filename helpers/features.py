"""Photos -> backbone features, batched and cached on disk.

Each photo's features are stored under the cache folder, keyed by the photo's
content (sha256), the backbone and the layer, so a re-run is instant and does no
model work at all -- the network is not even built when every photo is cached.
"""

from __future__ import annotations

import functools
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import assets, backbones, images

LOGITS = backbones.LOGITS  # "predictions": the 1000 logits (load_logits_model strips the softmax)


def content_hash(path: str | Path) -> str:
    """sha256 of a file's bytes: the cache key survives renames and catches edits."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as error:  # missing, a folder, unreadable: say which file, as images does
        raise images.ImageError(f"{path}: cannot be read ({error.strerror}). Check the path.") from None


def _cache_file(backbone: str, layer: str, digest: str) -> Path:
    return assets.cache_dir() / "features" / backbone / layer / f"{digest}.npy"


@functools.cache
def _feature_model(backbone: str, layers: tuple[str, ...]):
    return backbones.multi_layer_model(backbones.load_logits_model(backbone), list(layers))


def featurize(
    paths,
    layers=(LOGITS,),
    backbone: str | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Features of every photo in ``paths`` for each layer: ``{layer: (n, dim) array}``.

    ``layers`` are layer names of the backbone's logits model; ``"predictions"`` is
    the 1000 logits and ``"pooled"`` the pooled features below them. Photos are
    centre-cropped and resized to the backbone's input.
    """
    spec = backbones.get_backbone(backbone)
    layers = tuple(layers)
    paths = [Path(p) for p in paths]
    digests = [content_hash(p) for p in paths]
    missing = [
        i for i, d in enumerate(digests)
        if not all(_cache_file(spec.name, layer, d).is_file() for layer in layers)
    ]
    if missing:
        _compute_and_store(spec, layers, [paths[i] for i in missing], [digests[i] for i in missing],
                           batch_size, progress)
    return {
        layer: np.stack([np.load(_cache_file(spec.name, layer, d)) for d in digests])
        for layer in layers
    }


def _compute_and_store(spec, layers, paths, digests, batch_size, progress):
    model = _feature_model(spec.name, layers)
    with tqdm(total=len(paths), desc=f"{spec.title} features", unit="img", disable=not progress) as bar:
        for start, outputs in compute_features(model, spec, paths, batch_size):
            for layer in layers:
                for digest, row in zip(digests[start:], np.asarray(outputs[layer])):
                    _save_atomically(_cache_file(spec.name, layer, digest), row)
            bar.update(len(outputs[layers[0]]))


def compute_features(model, spec, paths, batch_size: int = 32, workers: int = 2):
    """Yield ``(start index, model outputs)`` batch by batch: files -> model input -> model.

    ``workers`` threads decode and preprocess the photos (Pillow and NumPy release the
    GIL) straight into the next batch's array while the model works on this one. The
    first batch, with the model still idle, gets every worker: for a folder that fits in
    one batch, like the course's 27 cars, that is the whole job.
    """
    size = spec.input_size

    def load_into(batch, index, path):
        batch[index] = spec.preprocess(images.load_for_model(path, size))

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def start_loading(start):
            chunk = paths[start : start + batch_size]
            batch = np.empty((len(chunk), size, size, 3), np.float32)
            return batch, [pool.submit(load_into, batch, i, path) for i, path in enumerate(chunk)]

        pending = start_loading(0)
        for start in range(0, len(paths), batch_size):
            batch, loads = pending
            for load in loads:
                load.result()  # a bad photo's ImageError, naming the file, is raised here
            if start + batch_size < len(paths):
                pending = start_loading(start + batch_size)
            yield start, model.predict_on_batch(batch)


def _save_atomically(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".part.npy")
    np.save(partial, array)
    partial.replace(path)  # an interrupted run never leaves a half-written cache entry
