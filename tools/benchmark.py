"""Benchmark the course as it is used live: notebook run times, memory, featurization speed.

    python tools/benchmark.py [--json benchmark.json] [--backbone inception_v3] [--notebooks 01 03] [--images 256]
                              [--note "why these figures may be off"] [--contended] [--executed DIR]

Writes a JSON file and prints it, for both backbones (or those named). Measures, per backbone:

- each notebook: kernel wall time and peak RSS of the kernel process, top to bottom
  in a fresh kernel, each section's kernel time (``sections``: one per ``##`` heading, the sum of its
  code cells' execution times, and each cell's own, by cell id: the run-sheet, ``tools/run_sheet.py``,
  is generated from them), plus the key results the notebook computed (accuracies) -- only
  where the weights are real: offline without Inception V3 weights (as in CI), Inception V3
  runs on structural random weights (``tools/structural_assets.py``), which cost the same
  time and memory but make accuracies meaningless, so none are reported for it;
- featurization throughput of the course's own path (files on disk -> decoded,
  cropped, preprocessed -> logits) against the bare model on pre-decoded in-memory
  tensors at the same batch size, and their ratio, in one run;
- featurizing the cars on a cold and on a warm cache (the warm run must build no model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]  # helpers, and this folder's modules, however this one is run
from notebook_runner import run_notebook, set_headless_defaults  # noqa: E402  (TensorFlow is not started yet)
from sections import sections  # noqa: E402

# Nobody watches a benchmark: the notebooks start no TensorBoard server, nor does this process (featurization).
set_headless_defaults()

# The key results each notebook computed: an expression over the notebook's own variables.
COURSE_NOTEBOOKS = ("01", "02", "03", "04")  # "the whole course" totals these; notebook 5 is optional

RESULTS = {
    "01": ('{"mnist": [{k: r[k] for k in ("name", "accuracy", "parameters", "seconds")} for r in results], '
           '"xla_speedup": graph_ms / xla_ms}'),
    "02": '{"top5_correct": {name: any(c in CORRECT_CLASSES[name] for _, c, _ in top5[name]) for name in CORRECT_CLASSES}}',
    "03": ('{"svm_leave_one_out_accuracy": loo_accuracy, "leave_one_out_accuracy_by_layer": layer_accuracy, '
           '"svm_fit_ms": svm_fit_ms, "test_correct": int(np.sum(np.array(svm_test) == test_labels))}'),
    "04": ('{"head_kfold_validation_accuracy": transfer_accuracies.mean(), '
           '"scratch_kfold_validation_accuracy": scratch_accuracies.mean(), '
           '"tfhub_kfold_validation_accuracy": hub_accuracies.mean(), "head_test_accuracy": transfer_test.mean(), '
           '"final_keras_test_accuracy": test_accuracy(keras_predicted)}'),
    "05": ('{"n_val": len(val.labels), "transfer_val_accuracy": transfer_history["val_accuracy"], '
           '"scratch_val_accuracy": scratch_history["val_accuracy"][-1], '
           '"long_val_accuracy": long_history["val_accuracy"][-1], "long_epochs": LONG_EPOCHS, '
           '"augmentation_gain": augmentation_gain, "fine_tuning_gain": fine_tuning_gain, '
           '"placeholder_effect": placeholder_effect}'),
}
# Notebook 1 (MNIST) does not use the backbone: its results are real on any weights.
BACKBONE_FREE = ("01",)


def cell_seconds(cell) -> float:
    """A code cell's execution time, as nbclient recorded it (from its start to the kernel's reply)."""
    timing = cell.metadata["execution"]
    start, end = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                  for key in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def section_times(nb) -> list[dict]:
    """Each section of an executed notebook: its title, its kernel time, and each code cell's, by cell id."""
    found = []
    for section in sections(nb):
        cells = {cell.id: round(cell_seconds(cell), 2) for cell in section.cells if cell.cell_type == "code"}
        found.append({"title": section.title, "kernel_seconds": round(sum(cells.values()), 1), "cells": cells})
    return found


def featurization_throughput(n_images: int, batch_size: int | None = None) -> dict:
    """Course path vs bare model, measured in one run on the same photos and batch size (default: featurize's)."""
    from helpers import assets, backbones, features, images

    batch_size = batch_size or features.BATCH_SIZE
    spec = backbones.get_backbone()
    model = backbones.multi_layer_model(backbones.load_logits_model(), [features.LOGITS])
    photos = assets.fetch_all(("images/",))
    paths = (photos * (n_images // len(photos) + 1))[:n_images]
    pixels = spec.preprocess(images.load_batch(paths, spec.input_size))

    for _ in features.compute_features(model, spec, paths[:batch_size], batch_size):
        pass  # warm-up: builds the predict function once for both measurements
    best = {}
    for _ in range(3):  # best of three: the machine is shared, the minimum is the signal
        t0 = time.perf_counter()
        for _ in features.compute_features(model, spec, paths, batch_size):
            pass
        t1 = time.perf_counter()
        for start in range(0, n_images, batch_size):
            model.predict_on_batch(pixels[start : start + batch_size])
        t2 = time.perf_counter()
        best["course"] = min(best.get("course", np.inf), t1 - t0)
        best["bare"] = min(best.get("bare", np.inf), t2 - t1)
    course, bare = n_images / best["course"], n_images / best["bare"]
    return {"images": n_images, "batch_size": batch_size, "course_images_per_s": round(course, 1),
            "bare_model_images_per_s": round(bare, 1), "ratio": round(course / bare, 3)}


def cache_timings() -> dict:
    """Featurize the 27 car photos on a cold, then a warm cache (which must build no model)."""
    from helpers import assets, datasets, features

    with tempfile.TemporaryDirectory() as cache:
        os.environ[assets.CACHE_ENV] = cache
        features._feature_model.cache_clear()
        folder = datasets.load_image_folder(assets.fetch_folder("images/cars"))
        paths = folder.paths + folder.unlabelled
        t0 = time.perf_counter()
        features.featurize(paths, progress=False)
        t1 = time.perf_counter()
        models_before = features._feature_model.cache_info().misses
        features.featurize(paths, progress=False)
        t2 = time.perf_counter()
        built = features._feature_model.cache_info().misses - models_before
    return {"photos": len(paths), "cold_seconds": round(t1 - t0, 2), "warm_seconds": round(t2 - t1, 3),
            "warm_models_built": built}


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.system()} {platform.release()}")


def backbone_environment(name: str, scratch: Path) -> tuple[dict[str, str], str]:
    """The environment that runs the course on backbone ``name``, and which weights it gets.

    Offline without that backbone's weights (Inception V3 in CI), the weights are structural:
    random values in the real layout, built by ``tools/structural_assets.py``.
    """
    from helpers import assets, backbones, hub
    from structural_assets import TFHUB_MODULE, build_overlay
    from tfhub_fixture import build_tfhub_savedmodel

    env = {backbones.BACKBONE_ENV: name, assets.CACHE_ENV: str(scratch / "cache")}
    offline = assets.offline_dir()
    if offline is None:
        return env, "pretrained"
    if (offline / backbones.get_backbone(name).weights).is_file():
        weights = "pretrained"
        if not os.environ.get(hub.HANDLE_ENV):  # notebook 4's TF Hub stand-in from the offline weights
            env[hub.HANDLE_ENV] = str(build_tfhub_savedmodel(scratch / TFHUB_MODULE, name))
    else:
        weights = "structural (random values: time and memory are real, accuracies are not reported)"
        overlay = build_overlay(scratch / "assets", offline, name)
        env.update({assets.OFFLINE_ENV: str(overlay), hub.HANDLE_ENV: str(overlay / TFHUB_MODULE)})
    return env, weights


def benchmark_backbone(name: str, args) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix=f"going-deeper-benchmark-{name}-"))
    env, weights = backbone_environment(name, scratch)
    results = {"weights": weights, "notebooks": {}}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if args.notebooks and not path.name.startswith(tuple(args.notebooks)):
            continue
        print(f"running {path.name} on {name} ...", flush=True)
        real = weights == "pretrained" or path.name.startswith(BACKBONE_FREE)
        nb, report = run_notebook(path, env=env, results=RESULTS.get(path.name[:2], "{}") if real else "{}")
        report["sections"] = section_times(nb)
        if args.executed:  # the executed copy, as a learner would see it (for slides and looking at figures)
            folder = Path(args.executed) / name
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / path.name)
        results["notebooks"][path.name] = report
    course = {name: r for name, r in results["notebooks"].items() if name[:2] in COURSE_NOTEBOOKS}
    if len(course) == len(COURSE_NOTEBOOKS):  # the course proper (notebooks 1-4; 5 is optional): all of it or no total
        results["course_kernel_seconds"] = round(sum(r["kernel_seconds"] for r in course.values()), 1)
    with mock.patch.dict(os.environ, env):  # featurize with this backbone and its weights, in this process
        results["featurization"] = featurization_throughput(args.images, args.batch_size)
        results["car_features_cache"] = cache_timings()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmark.json", help="where to write the results")
    parser.add_argument("--backbone", action="append", help="backbone(s) to measure (default: both)")
    parser.add_argument("--notebooks", nargs="*", help="notebook number prefixes (default: all)")
    parser.add_argument("--images", type=int, default=256, help="photos for the throughput test")
    parser.add_argument("--batch-size", type=int, help="photos per model call (default: what featurize uses)")
    parser.add_argument("--note", help="recorded with the run: anything that makes its figures less than typical "
                        "(a busy machine...)")
    parser.add_argument("--contended", action="store_true", help="mark the run as measured on a busy machine: "
                        "recorded, but its times feed no table (tools/claims_table.py)")
    parser.add_argument("--executed", help="also write each executed notebook to DIR/<backbone>/")
    args = parser.parse_args()

    from helpers.setup import import_tensorflow_quietly

    import_tensorflow_quietly()  # before anything else imports TensorFlow
    from helpers import backbones

    results = {"machine": machine(), "date": datetime.now().isoformat(timespec="seconds"), "backbones": {}}
    if args.note:
        results["note"] = args.note
    if args.contended:
        results["contended"] = True
    for name in args.backbone or sorted(backbones.BACKBONES):
        results["backbones"][name] = benchmark_backbone(name, args)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")  # partial results survive a crash
    print(json.dumps(results, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
