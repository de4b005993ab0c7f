"""helpers.features: batched featurization, cached on disk by photo content."""

import os
import shutil

import numpy as np
import pytest

from helpers import assets, features

pytestmark = pytest.mark.skipif(not os.environ.get(assets.OFFLINE_ENV), reason="needs the offline asset folder")
SAMPLES = ["images/samples/coral-cat.bmp", "images/samples/coral-owl.jpg", "images/samples/coral-parrot.jpg"]


def test_features_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    paths = [assets.fetch(p) for p in SAMPLES]
    layers = ("predictions", "pooled")
    cold = features.featurize(paths, layers, backbone="mobilenet_v2", batch_size=2, progress=False)
    assert cold["predictions"].shape == (3, 1000) and cold["pooled"].shape == (3, 1280)
    # Batching must not change a photo's features.
    single = features.featurize(paths[:1], layers, backbone="mobilenet_v2", progress=False)
    np.testing.assert_allclose(single["pooled"][0], cold["pooled"][0])

    # Warm: same photos under other names -> no model is built or run at all.
    renamed = [shutil.copy(p, tmp_path / f"copy{i}{p.suffix}") for i, p in enumerate(paths)]
    monkeypatch.setattr(features, "_feature_model", lambda *a: pytest.fail("the model ran on a warm cache"))
    warm = features.featurize(renamed, layers, backbone="mobilenet_v2", progress=False)
    for layer in layers:
        np.testing.assert_array_equal(warm[layer], cold[layer])
    cached = list((tmp_path / "cache" / "features").rglob("*.npy"))
    assert len(cached) == 6 and not any(".part" in p.name for p in cached)


def test_corrupt_photo_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(Exception, match="bad.jpg"):
        features.featurize([assets.fetch(SAMPLES[0]), bad], backbone="mobilenet_v2", progress=False)
    assert not list((tmp_path / "cache").rglob("*.npy"))  # nothing half-done was cached
