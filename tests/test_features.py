"""helpers.features: batched featurization, cached on disk by photo content."""

import os
import shutil

import numpy as np
import pytest

from helpers import assets, backbones, features, images

pytestmark = pytest.mark.skipif(not os.environ.get(assets.OFFLINE_ENV), reason="needs the offline asset folder")
SAMPLES = ["images/samples/coral-cat.bmp", "images/samples/coral-owl.jpg", "images/samples/coral-parrot.jpg"]


def test_features_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    paths = [assets.fetch(p) for p in SAMPLES]
    layers = ("predictions", "pooled")
    cold = features.featurize(paths, layers, backbone="mobilenet_v2", batch_size=2, progress=False)
    assert cold["predictions"].shape == (3, 1000) and cold["pooled"].shape == (3, 1280)
    # Batching must not change a photo's features (a fresh cache: computed again, alone).
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache-single"))
    single = features.featurize(paths[:1], layers, backbone="mobilenet_v2", progress=False)
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    np.testing.assert_allclose(single["pooled"][0], cold["pooled"][0], rtol=1e-4, atol=1e-5)  # float rounding

    # Warm: same photos under other names -> no model is built or run at all.
    renamed = [shutil.copy(p, tmp_path / f"copy{i}{p.suffix}") for i, p in enumerate(paths)]
    monkeypatch.setattr(features, "_feature_model", lambda *a: pytest.fail("the model ran on a warm cache"))
    warm = features.featurize(renamed, layers, backbone="mobilenet_v2", progress=False)
    for layer in layers:
        np.testing.assert_array_equal(warm[layer], cold[layer])
    # 3 photos x 2 layers, and no temporary of files.atomic_write (hidden ".<name>.<random>.tmp") left behind
    files = [p for p in (tmp_path / "cache" / "features").rglob("*") if p.is_file()]
    assert sorted(p.suffix for p in files) == [".npy"] * 6, files
    assert not any(p.name.startswith(".") or assets.LEFTOVER.search(p.name) for p in files), files


def test_bad_photo_is_named_and_earlier_batches_stay_cached(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = [assets.fetch(p) for p in SAMPLES[:2]]
    with pytest.raises(images.ImageError, match="bad.jpg"):
        features.featurize([*good, bad], backbone="mobilenet_v2", batch_size=2, progress=False)
    # the first batch was complete and is cached; nothing of the failed batch is
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    with pytest.raises(images.ImageError, match="missing.jpg: no such file"):
        features.featurize([tmp_path / "missing.jpg"], backbone="mobilenet_v2", progress=False)


def test_threaded_batches_keep_photo_order():
    """Several threads fill each batch: every row must still be its own photo's features."""
    spec = backbones.get_backbone("mobilenet_v2")
    model = features._feature_model(spec, ("predictions",))
    paths = [assets.fetch(p) for p in SAMPLES] * 2  # 6 photos: batches of 4 and 2
    expected = model.predict_on_batch(spec.preprocess(images.load_batch(paths, spec.input_size)))["predictions"]
    starts, rows, digests = [], [], []
    for start, outputs, batch_digests in features.compute_features(model, spec, paths, batch_size=4, workers=3):
        starts.append(start)
        rows.append(np.asarray(outputs["predictions"]))
        digests += batch_digests
    assert starts == [0, 4] and digests == [images.content_hash(p) for p in paths]
    np.testing.assert_allclose(np.concatenate(rows), expected, rtol=1e-4, atol=1e-4)


def test_a_photo_replaced_while_featurizing_is_cached_under_what_was_decoded(tmp_path, monkeypatch):
    """Hashed, then replaced before it is decoded (a synced folder, a re-upload): the new photo's
    features must never be cached under the old photo's hash, where every later run would find them."""
    cat, owl = [assets.fetch(p) for p in SAMPLES[:2]]
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "truth"))
    truth = features.featurize([cat, owl], backbone="mobilenet_v2", progress=False)[features.LOGITS]

    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    photo = shutil.copy(cat, tmp_path / "photo.bmp")

    def hash_then_replace(path):
        digest = images.content_hash(path)
        if path == photo:
            shutil.copy(owl, photo)  # replaced between the hash and the decoding
        return digest

    monkeypatch.setattr(features, "content_hash", hash_then_replace)
    # photo.bmp decodes as the owl; the cat itself, a copy of photo.bmp's old content, is still computed
    during = features.featurize([photo, cat], backbone="mobilenet_v2", progress=False)[features.LOGITS]
    np.testing.assert_allclose(during, truth[[1, 0]], rtol=1e-4, atol=1e-4)
    monkeypatch.setattr(features, "content_hash", images.content_hash)
    after = features.featurize([cat, owl], backbone="mobilenet_v2", progress=False)[features.LOGITS]
    np.testing.assert_allclose(after, truth, rtol=1e-4, atol=1e-4)  # the cache holds no owl under the cat's hash
