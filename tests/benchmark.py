"""Benchmark the course as it is used live: notebook run times, memory, featurization speed.

    python tests/benchmark.py [--json benchmark.json] [--notebooks 01 03] [--images 256]

Prints a table and writes a JSON file, for the backbone selected by
GOING_DEEPER_BACKBONE. Measures:

- each notebook: kernel wall time and peak RSS of the kernel process, top to bottom
  in a fresh kernel, plus the key results the notebook computed (accuracies);
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

import nbformat
import numpy as np
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# Nobody watches a benchmark: the notebooks start no TensorBoard server.
os.environ.setdefault("GOING_DEEPER_HEADLESS", "1")

# Appended to each notebook in memory: reports the kernel's peak memory and the key
# results the notebook computed (an expression over the notebook's own variables).
REPORT_CELL = """
import json as _json, resource as _resource
_report = {"peak_rss_mb": round(_resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024)}
_report.update(%s)
print("BENCHMARK", _json.dumps(_report, default=float))
"""
RESULTS = {
    "01": '{"mnist": [{k: r[k] for k in ("name", "accuracy", "parameters", "seconds")} for r in results]}',
    "02": '{"top5_correct": {name: any(c in CORRECT_CLASSES[name] for _, c, _ in top5[name]) for name in CORRECT_CLASSES}}',
    "03": '{"svm_leave_one_out_accuracy": loo_accuracy, "leave_one_out_accuracy_by_layer": layer_accuracy}',
    "04": ('{"head_kfold_validation_accuracy": transfer_accuracies.mean(), '
           '"scratch_kfold_validation_accuracy": scratch_accuracies.mean(), '
           '"tfhub_kfold_validation_accuracy": hub_accuracies.mean()}'),
}


def run_notebook(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL % RESULTS.get(path.name[:2], "{}")))
    client = NotebookClient(nb, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    timing = [c.metadata.get("execution", {}) for c in nb.cells if c.cell_type == "code"]
    start = datetime.fromisoformat(timing[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(timing[-2]["shell.execute_reply"].replace("Z", "+00:00"))  # before the report
    report = next(o["text"] for o in nb.cells[-1].outputs if "BENCHMARK" in o.get("text", ""))
    result = json.loads(report.split("BENCHMARK", 1)[1])
    result["kernel_seconds"] = round((end - start).total_seconds(), 1)
    return result


def featurization_throughput(n_images: int, batch_size: int) -> dict:
    """Course path vs bare model, measured in one run on the same photos and batch size."""
    from helpers import assets, backbones, features, images

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
    from helpers import assets, features, images

    with tempfile.TemporaryDirectory() as cache:
        os.environ[assets.CACHE_ENV] = cache
        features._feature_model.cache_clear()
        folder = images.load_image_folder(assets.fetch_folder("images/cars"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmark.json", help="where to write the results")
    parser.add_argument("--notebooks", nargs="*", help="notebook number prefixes (default: all)")
    parser.add_argument("--images", type=int, default=256, help="photos for the throughput test")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from helpers.setup import import_tensorflow_quietly

    import_tensorflow_quietly()  # before anything else imports TensorFlow
    from helpers import assets, backbones, hub
    from tfhub_fixture import build_tfhub_savedmodel

    if os.environ.get(assets.OFFLINE_ENV) and not os.environ.get(hub.HANDLE_ENV):
        # offline, as in the tests: notebook 4 gets the TF Hub stand-in built from the offline weights
        os.environ[hub.HANDLE_ENV] = str(build_tfhub_savedmodel(Path(tempfile.mkdtemp()) / "tfhub_module"))
    results = {"backbone": backbones.get_backbone().name, "machine": machine(),
               "date": datetime.now().isoformat(timespec="seconds"), "notebooks": {}}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if args.notebooks and not path.name.startswith(tuple(args.notebooks)):
            continue
        print(f"running {path.name} ...", flush=True)
        results["notebooks"][path.name] = run_notebook(path)
    results["course_kernel_seconds"] = round(sum(r["kernel_seconds"] for r in results["notebooks"].values()), 1)
    results["featurization"] = featurization_throughput(args.images, args.batch_size)
    results["car_features_cache"] = cache_timings()

    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
