"""TensorBoard runs for the notebooks: where they go, what they hold, and an Embedding Projector run.

A *run* is a folder TensorBoard reads: Keras' ``TensorBoard`` callback fills one with event files
(notebook 1), and :func:`write_projector_run` fills one with points to fly through (notebook 3).
They all live under ``outputs/tensorboard/`` at the top of the course folder, which git ignores.

>>> log_dir = fresh_run_dir("mnist", "dnn")                      # outputs/tensorboard/mnist/dnn, emptied
>>> model.fit(..., callbacks=[keras.callbacks.TensorBoard(log_dir)])
>>> logged_history(log_dir)["val_loss"]                          # read back from the event files
>>> write_projector_run(tensorboard_dir("cars"), {"logits": logits},
...                     {"file": names, "label": labels}, thumbnails)

The test suite sets ``GOING_DEEPER_HEADLESS=1``: with nobody to look, the notebooks start no
TensorBoard server (:func:`is_headless`).

The course deletes only the runs it wrote: each folder it creates holds a marker file
(``.going-deeper-run``); a folder without one (a learner's photos given by mistake) is never
deleted or replaced. When they do start one, it is ``going-deeper-tensorboard``
(:func:`use_light_tensorboard`): TensorBoard without TensorFlow, in a tenth of the memory.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
from PIL import Image

from . import files
from .environment import HEADLESS_ENV

__all__ = ["LIGHT_TENSORBOARD", "MARKER", "METADATA_FILE", "PROJECTOR_CONFIG", "SPRITE_FILE", "check_replaceable",
           "fresh_run_dir", "is_headless", "logged_history", "logged_scalars", "main", "show_when_stopped",
           "sprite_image", "tensorboard_dir", "use_light_tensorboard", "write_projector_run"]

LIGHT_TENSORBOARD = "going-deeper-tensorboard"  # the console script of main(), below (pyproject.toml)
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"
PROJECTOR_CONFIG = "projector_config.pbtxt"  # the name TensorBoard's projector plugin reads
MARKER = ".going-deeper-run"  # in every run folder the course creates: it may delete that folder
MARKER_TEXT = "Written by the Going Deeper course (helpers.tensorboard_runs): re-running replaces this folder.\n"
MAX_SPRITE_SIDE = 8192  # the projector cannot load a larger sprite image
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def is_headless() -> bool:
    """True when the notebook runs with nobody watching (tests, benchmarks): start no TensorBoard then.

    ``%tensorboard`` starts a web server in a process of its own (Jupyter's kernel stops it when it
    shuts down): a run that nobody looks at has no use for it.
    """
    return os.environ.get(HEADLESS_ENV, "") not in ("", "0")


def use_light_tensorboard() -> None:
    """Make ``%tensorboard`` start ``going-deeper-tensorboard`` (:func:`main`) instead of ``tensorboard``.

    The magic runs the program named by the ``TENSORBOARD_BINARY`` variable; left as it is (when
    the script cannot be found, or the variable is already set), it runs plain ``tensorboard``.
    Its frame also says when that server has stopped (:func:`show_when_stopped`).
    """
    search_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # the kernel's venv first
    script = shutil.which(LIGHT_TENSORBOARD, path=search_path)
    if script and "TENSORBOARD_BINARY" not in os.environ:
        os.environ["TENSORBOARD_BINARY"] = script
    show_when_stopped()


# Added below the frame %tensorboard shows: every few seconds the page asks TensorBoard's address for an
# answer, and when none comes (the kernel was restarted or shut down, TensorBoard with it), the frame
# gives way to a line that says so. In the browser: no kernel is needed for it.
FRAME_CHECK_MS = 5000
FRAME_STOPPED = "TensorBoard stopped with the kernel that started it: run this cell again to start it."
FRAME_WATCH = """<script>
(function() {
  const frame = document.getElementById(%(frame_id)s);
  const timer = setInterval(async function() {
    if (!frame || !frame.isConnected) { clearInterval(timer); return; }
    if (!frame.src) { return; }
    let alive;
    try {  // another port (a laptop): an opaque answer; Binder's proxy: its status
      const reply = await fetch(frame.src, {mode: "no-cors", cache: "no-store"});
      alive = reply.type === "opaque" || reply.ok;
    } catch (error) {
      alive = false;  // nothing listens there any more
    }
    if (!alive) {
      clearInterval(timer);
      const note = document.createElement("pre");
      note.textContent = %(message)s;
      frame.replaceWith(note);
    }
  }, %(interval_ms)d);
})();
</script>
"""


def show_when_stopped() -> None:
    """Make ``%tensorboard``'s frame say so when its TensorBoard has stopped, instead of staying on, dead.

    TensorBoard runs as long as the kernel that started it; after a kernel restart the frame a cell
    left on screen points at nothing until that cell runs again, and looks broken. TensorBoard makes
    the frame in ``tensorboard.notebook._display_ipython`` (private: there is no public hook); this
    wraps it and adds :data:`FRAME_WATCH` below the frame. Should TensorBoard change that function,
    the frame is shown as TensorBoard makes it, without the watch.
    """
    import importlib

    import IPython.display

    # the module itself: `from tensorboard import notebook` may give TensorBoard's lazy stand-in for it
    notebook = importlib.import_module("tensorboard.notebook")
    original = getattr(notebook, "_display_ipython", None)
    if original is None or getattr(original, "shows_when_stopped", False):
        return

    def display_ipython(port, height, display_handle):
        captured = []  # what TensorBoard would have shown, through a stand-in for a display handle
        original(port, height, types.SimpleNamespace(update=captured.append))
        shown = captured[-1] if captured else None
        frame_id = re.search(r'<iframe id="(tensorboard-frame-[0-9a-f]+)"', getattr(shown, "data", None) or "")
        if frame_id is not None:  # the frame we know (any other is shown unchanged)
            shown = IPython.display.HTML(shown.data + FRAME_WATCH % {
                "frame_id": json.dumps(frame_id.group(1)), "message": json.dumps(FRAME_STOPPED),
                "interval_ms": FRAME_CHECK_MS})
        if display_handle:
            display_handle.update(shown)
        else:
            IPython.display.display(shown)

    display_ipython.shows_when_stopped = True
    notebook._display_ipython = display_ipython


def main() -> None:
    """``going-deeper-tensorboard [tensorboard's arguments]``: TensorBoard without importing TensorFlow.

    TensorBoard imports TensorFlow when it can (about 600 MiB of memory) but only needs its own small
    stand-in, which it uses where TensorFlow is not installed (``pip install tensorboard`` alone). A
    ``None`` in ``sys.modules`` makes ``import tensorflow`` fail, as Python documents: the server takes
    under 100 MiB instead of about 700 beside a kernel on Binder's 2 GB (a unit test checks it on every
    CI leg). What it cannot do, the course does not use: embeddings stored in TensorFlow checkpoints.
    """
    sys.modules["tensorflow"] = None  # TensorBoard as if TensorFlow were not installed
    from tensorboard.main import run_main

    run_main()


def tensorboard_dir(*names: str) -> Path:
    """``outputs/tensorboard/<names...>``: where the course keeps its TensorBoard runs."""
    for name in names:
        if not _SIMPLE_NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"{name!r}: a run name may only hold letters, digits, '_', '-' and '.'.")
    return files.outputs_folder("tensorboard", *names)


def fresh_run_dir(*names: str) -> Path:
    """An empty :func:`tensorboard_dir` for one run (but for its marker); a previous run there is deleted.

    Re-running a notebook therefore replaces its curves instead of drawing a second set over them.
    Only a run the course wrote is deleted (see :func:`check_replaceable`), and a name is required:
    with none, the folder would be every run at once.
    """
    if not names:
        raise ValueError("Give the run a name, e.g. fresh_run_dir('mnist', 'dnn'): with none, the fresh folder "
                         "would be the one holding every TensorBoard run.")
    run_dir = tensorboard_dir(*names)
    check_replaceable(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    with files.atomic_output(run_dir / MARKER) as marker:
        marker.write_text(MARKER_TEXT, encoding="utf-8")
    return run_dir


def check_replaceable(folder: Path) -> None:
    """Raise a ValueError unless ``folder`` is absent, empty, or a run the course wrote (so it may delete it).

    A run the course wrote holds its marker file; runs written before the marker existed hold
    nothing but TensorBoard event files, or nothing but the projector's files.
    """
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_dir() and not folder.is_symlink():
        if (folder / MARKER).is_file():
            return
        found = [f for f in folder.rglob("*") if not f.is_dir() or f.is_symlink()]
        if all(f.name.startswith("events.out.tfevents.") for f in found):
            return  # empty, or a Keras TensorBoard run
        if (folder / PROJECTOR_CONFIG).is_file() and all(
                f.parent == folder and (f.name in (PROJECTOR_CONFIG, SPRITE_FILE) or f.suffix == ".tsv") for f in found):
            return  # a projector run
    raise ValueError(f"{folder}: not a TensorBoard run the course wrote (no {MARKER} file in it), so it was left "
                     f"as it is: it may hold your own files. Choose another run name or folder, or move it away.")


def logged_scalars(event_dir: str | Path) -> dict[str, dict[int, float]]:
    """Every scalar in the event files of ``event_dir``, as TensorBoard reads it: {tag: {step: value}}.

    Keras' callback writes ``<run>/train`` and ``<run>/validation``, with one ``epoch_<metric>``
    value per epoch (step 0 is the first epoch).
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    event_dir = Path(event_dir)
    if not any(event_dir.glob("events.out.tfevents.*")):
        raise FileNotFoundError(
            f"{event_dir}: no TensorBoard event files here. Train with the TensorBoard callback first.")
    accumulator = EventAccumulator(str(event_dir), size_guidance={"tensors": 0})  # 0: keep every step
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags()["tensors"]:  # TF 2 writes scalars as tensors, marked for the scalars plugin
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
            scalars[tag] = {e.step: float(make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)}
    return scalars


def logged_history(run_dir: str | Path) -> dict[str, list[float]]:
    """A Keras ``TensorBoard`` callback's run read back in ``History.history``'s format.

    {"loss": [one value per epoch], "accuracy": [...], "val_loss": [...], ...}: ``<run>/train``
    gives the training metrics, ``<run>/validation`` the ``val_`` ones.
    """
    history = {}
    for folder, prefix in (("train", ""), ("validation", "val_")):
        for tag, values in logged_scalars(Path(run_dir) / folder).items():
            if tag.startswith("epoch_"):
                history[prefix + tag.removeprefix("epoch_")] = [values[step] for step in sorted(values)]
    return history


def sprite_image(thumbnails, thumbnail_size: int) -> np.ndarray:
    """The projector's sprite: every thumbnail resized to a square, in a square grid, row by row.

    Point ``i`` of the embedding is cell ``i`` (left to right, top to bottom); unused cells stay white.
    """
    thumbnails = list(thumbnails)
    columns = math.ceil(math.sqrt(len(thumbnails)))
    if columns * thumbnail_size > MAX_SPRITE_SIDE:
        raise ValueError(f"{len(thumbnails)} thumbnails of {thumbnail_size} pixels make a sprite wider than "
                         f"{MAX_SPRITE_SIDE} pixels, the projector's limit: use a smaller thumbnail_size.")
    sprite = np.full((columns * thumbnail_size, columns * thumbnail_size, 3), 255, np.uint8)
    for i, image in enumerate(thumbnails):
        row, column = divmod(i, columns)
        small = Image.fromarray(np.asarray(image, np.uint8)).convert("RGB").resize(
            (thumbnail_size, thumbnail_size), Image.Resampling.BILINEAR)
        sprite[row * thumbnail_size:(row + 1) * thumbnail_size,
               column * thumbnail_size:(column + 1) * thumbnail_size] = np.asarray(small)
    return sprite


def write_projector_run(
    run_dir: str | Path,
    embeddings: dict[str, np.ndarray],
    metadata: dict[str, list],
    thumbnails=None,
    thumbnail_size: int = 64,
) -> Path:
    """Write a TensorBoard Embedding Projector run: one point per row of each embedding.

    - ``embeddings``: {name: (n, dim) array}; each becomes ``<name>.tsv`` (the projector's tensor
      format, which https://projector.tensorflow.org can also load), selectable by name in the projector;
    - ``metadata``: {column: n values}, shared by all embeddings, for labels, search and colours;
    - ``thumbnails``: n images (any size), drawn in place of the points (the sprite).

    The run is written into a temporary folder beside ``run_dir``, then swapped in: a failure
    leaves the previous run untouched. A ``run_dir`` that holds anything but a run the course
    wrote is refused (:func:`check_replaceable`): it is never replaced. Returns ``run_dir``.
    """
    from tensorboard.plugins import projector

    run_dir = Path(run_dir)
    n = _check_projector_inputs(embeddings, metadata, thumbnails)
    check_replaceable(run_dir)
    with files.atomic_output(run_dir) as staging:  # a failure leaves the previous run untouched
        staging.mkdir()
        (staging / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        config = projector.ProjectorConfig()
        for name, values in embeddings.items():
            np.savetxt(staging / f"{name}.tsv", np.asarray(values, np.float32), fmt="%.9g", delimiter="\t")
            embedding = config.embeddings.add()
            embedding.tensor_name = name
            embedding.tensor_path = f"{name}.tsv"  # paths are relative to the run: the folder can move
            embedding.tensor_shape.extend(np.shape(values))
            embedding.metadata_path = METADATA_FILE
            if thumbnails is not None:
                embedding.sprite.image_path = SPRITE_FILE
                embedding.sprite.single_image_dim.extend([thumbnail_size, thumbnail_size])
        (staging / METADATA_FILE).write_text(_metadata_tsv(metadata, n), encoding="utf-8")
        if thumbnails is not None:
            Image.fromarray(sprite_image(thumbnails, thumbnail_size)).save(staging / SPRITE_FILE)
        projector.visualize_embeddings(str(staging), config)  # writes PROJECTOR_CONFIG
    return run_dir


def _check_projector_inputs(embeddings, metadata, thumbnails) -> int:
    """The number of points, after checking that every input has one row per point."""
    if not embeddings:
        raise ValueError("embeddings is empty: give at least one {name: (n, dim) array}.")
    sizes = {}
    for name, values in embeddings.items():
        if not _SIMPLE_NAME.fullmatch(name):
            raise ValueError(f"embedding name {name!r}: use letters, digits, '_', '-' and '.' (it names a file).")
        if np.ndim(values) != 2 or not np.isfinite(values).all():
            raise ValueError(f"embedding {name!r}: expected a 2-D array of finite numbers (points x features), "
                             f"got shape {np.shape(values)}.")
        sizes[f"embedding {name!r}"] = len(values)
    sizes.update({f"metadata column {column!r}": len(values) for column, values in metadata.items()})
    if thumbnails is not None:
        sizes["thumbnails"] = len(thumbnails)
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every input needs one row per point, got {sizes}.")
    n = next(iter(sizes.values()))
    if n == 0:
        raise ValueError("no points: the embeddings have no rows.")
    return n


def _metadata_tsv(metadata: dict[str, list], n: int) -> str:
    """The metadata file: a header row (when there are several columns), then one row per point."""
    if not metadata:
        return "\n".join(str(i) for i in range(n)) + "\n"  # the projector still wants one row per point

    def cell(value) -> str:  # a tab or line break inside a value would shift every later column
        return re.sub(r"\s", " ", str(value))

    rows = zip(*metadata.values())
    lines = ([] if len(metadata) == 1 else ["\t".join(map(cell, metadata))]) + ["\t".join(map(cell, r)) for r in rows]
    return "\n".join(lines) + "\n"

