"""helpers.tensorboard_runs, and the notebooks' TensorBoard cells: what the runs hold, what a real
TensorBoard server serves from them, and that a headless run starts no server (none is left behind)."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import types
import threading
import time
import urllib.request
import warnings
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest
from google.protobuf import text_format
from PIL import Image

import support
from helpers import tensorboard_runs
from helpers.assets import OFFLINE_ENV
from notebook_runner import Kernel

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
needs_offline_assets = pytest.mark.skipif(not os.environ.get(OFFLINE_ENV), reason="needs the offline asset folder")


# --- where runs go -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("working_dir, outputs", [("course/notebooks", "course/outputs"), ("colab", "colab/outputs")])
def test_runs_go_to_outputs_at_the_top_of_the_course(tmp_path, monkeypatch, working_dir, outputs):
    (tmp_path / working_dir).mkdir(parents=True)
    monkeypatch.chdir(tmp_path / working_dir)
    assert tensorboard_runs.tensorboard_dir("mnist", "dnn").resolve() == tmp_path / outputs / "tensorboard/mnist/dnn"


def test_fresh_run_dir_empties_the_previous_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / "outputs/tensorboard/mnist/dnn/train/events.out.tfevents.old"
    stale.parent.mkdir(parents=True)
    stale.write_text("old run")
    neighbour = tmp_path / "outputs/tensorboard/mnist/linear"
    neighbour.mkdir()
    run_dir = tensorboard_runs.fresh_run_dir("mnist", "dnn")  # a run from before the marker: event files only
    assert [p.name for p in run_dir.iterdir()] == [tensorboard_runs.MARKER]
    assert neighbour.is_dir()  # other runs are left alone
    (run_dir / "train").mkdir()
    (run_dir / "train" / "events.out.tfevents.new").write_text("new run")
    assert [p.name for p in tensorboard_runs.fresh_run_dir("mnist", "dnn").iterdir()] == [tensorboard_runs.MARKER]


def test_only_runs_the_course_wrote_are_ever_deleted(tmp_path, monkeypatch):
    """A learner's folder given by mistake was deleted whole; fresh_run_dir() emptied every run."""
    monkeypatch.chdir(tmp_path)
    run = tensorboard_runs.fresh_run_dir("mnist", "dnn")
    with pytest.raises(ValueError, match="Give the run a name"):
        tensorboard_runs.fresh_run_dir()
    assert run.is_dir()
    mine = tensorboard_runs.tensorboard_dir("mine")
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(ValueError, match=f"{re.escape(str(mine))}: not a TensorBoard run the course wrote"):
        tensorboard_runs.fresh_run_dir("mine")
    photos = tmp_path / "my_photos"
    (photos / "Classic").mkdir(parents=True)
    (photos / "Classic" / "car.jpg").write_bytes(b"a photo")
    embeddings, metadata, thumbnails = _points(n=4, seed=1)
    with pytest.raises(ValueError, match="not a TensorBoard run the course wrote.*move it away"):
        tensorboard_runs.write_projector_run(photos, embeddings, metadata, thumbnails)
    assert (photos / "Classic" / "car.jpg").read_bytes() == b"a photo" and (mine / "notes.txt").is_file()
    legacy = tmp_path / "cars"  # a projector run written before the marker existed is still replaced
    legacy.mkdir()
    for name in ("projector_config.pbtxt", "logits.tsv", "metadata.tsv", "sprite.png"):
        (legacy / name).write_text("old")
    tensorboard_runs.write_projector_run(legacy, embeddings, metadata)
    assert (legacy / tensorboard_runs.MARKER).is_file() and not (legacy / "sprite.png").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "../escape", "a/b", "tab\tname"])
def test_run_names_cannot_leave_the_runs_folder(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="run name"):
        tensorboard_runs.fresh_run_dir("mnist", name)


@pytest.mark.parametrize("value, headless", [(None, False), ("", False), ("0", False), ("1", True)])
def test_headless_is_set_by_one_variable(monkeypatch, value, headless):
    if value is None:
        monkeypatch.delenv(tensorboard_runs.HEADLESS_ENV, raising=False)
    else:
        monkeypatch.setenv(tensorboard_runs.HEADLESS_ENV, value)
    assert tensorboard_runs.is_headless() is headless


# --- Keras' TensorBoard callback: the event files hold every epoch ------------------------------------------


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """Two tiny canned models trained for 3 epochs, each with a TensorBoard callback: {name: (run folder, history)}."""
    from helpers.setup import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from helpers import canned

    logs = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (200, 4, 4)).astype("float32"), rng.integers(0, 3, 200)
    runs = {}
    for model in [canned.linear_classifier(3, input_shape=(4, 4)), canned.dnn_classifier([8], 3, input_shape=(4, 4))]:
        callback = keras.callbacks.TensorBoard(log_dir=logs / model.name)
        with warnings.catch_warnings():
            # Keras' callback logs the learning rate through np.array(variable), which NumPy 2 flags as deprecated
            warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy", DeprecationWarning)
            result = canned.fit_and_evaluate(model, (images, labels), (images, labels), epochs=3, batch_size=50,
                                             callbacks=[callback], verbose=0)
        runs[model.name] = logs / model.name, result["history"]
    return runs


def test_event_files_hold_every_epoch_of_each_model(trained_runs):
    for name, (run_dir, history) in trained_runs.items():
        logged = tensorboard_runs.logged_history(run_dir)
        assert set(history) <= set(logged)
        for metric, values in history.items():
            assert len(logged[metric]) == 3, (name, metric)
            np.testing.assert_allclose(logged[metric], values, rtol=1e-6, err_msg=f"{name} {metric}")
        train_scalars = tensorboard_runs.logged_scalars(run_dir / "train")
        assert sorted(train_scalars["epoch_loss"]) == [0, 1, 2]  # one step per epoch
        assert "keras" not in train_scalars  # the model graph is not a scalar...
        assert "keras" in _tensor_tags(run_dir / "train")  # ...but it is there, for the Graphs tab


def _tensor_tags(event_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(event_dir))
    accumulator.Reload()
    return accumulator.Tags()["tensors"]


def test_reading_a_folder_without_event_files_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path)) + ".*TensorBoard callback"):
        tensorboard_runs.logged_scalars(tmp_path)


# --- the Embedding Projector run ------------------------------------------------------------------------------


def _points(n=7, seed=0):
    rng = np.random.default_rng(seed)
    embeddings = {"logits": rng.normal(size=(n, 10)).astype(np.float32), "pooled": rng.random((n, 4))}
    metadata = {"file": [f"photo {i}.jpg" for i in range(n)], "label": ["a", "b"] * (n // 2) + ["unlabelled"] * (n % 2)}
    thumbnails = [rng.integers(0, 256, (30 + i, 40, 3), dtype=np.uint8) for i in range(n)]
    return embeddings, metadata, thumbnails


def _read_config(run_dir):
    from tensorboard.plugins import projector

    return text_format.Parse((run_dir / "projector_config.pbtxt").read_text(), projector.ProjectorConfig())


def _resized(image, size):
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def test_projector_run_holds_the_points_metadata_and_sprite(tmp_path):
    embeddings, metadata, thumbnails = _points(n=7)
    run_dir = tensorboard_runs.write_projector_run(tmp_path / "cars", embeddings, metadata, thumbnails,
                                                   thumbnail_size=20)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        tensorboard_runs.MARKER, "logits.tsv", "metadata.tsv", "pooled.tsv", "projector_config.pbtxt", "sprite.png"]

    config = _read_config(run_dir)
    assert [e.tensor_name for e in config.embeddings] == ["logits", "pooled"]
    for embedding in config.embeddings:
        values = embeddings[embedding.tensor_name]
        assert list(embedding.tensor_shape) == list(values.shape)
        assert embedding.metadata_path == "metadata.tsv"
        assert embedding.sprite.image_path == "sprite.png" and list(embedding.sprite.single_image_dim) == [20, 20]
        stored = np.loadtxt(run_dir / embedding.tensor_path, delimiter="\t", dtype=np.float32)
        np.testing.assert_array_equal(stored, np.asarray(values, np.float32))  # float32 exactly

    rows = (run_dir / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "file\tlabel"  # a header, since there are two columns
    assert rows[1:] == [f"{f}\t{label}" for f, label in zip(metadata["file"], metadata["label"])]

    sprite = np.asarray(Image.open(run_dir / "sprite.png"))
    assert sprite.shape == (3 * 20, 3 * 20, 3)  # 7 photos: a 3 x 3 grid
    for i, image in enumerate(thumbnails):  # photo i in cell i, row by row
        row, column = divmod(i, 3)
        cell = sprite[row * 20:(row + 1) * 20, column * 20:(column + 1) * 20]
        np.testing.assert_array_equal(cell, _resized(image, 20))
    assert (sprite[2 * 20:, 1 * 20:] == 255).all()  # the two unused cells stay white


def test_one_metadata_column_has_no_header_and_values_stay_on_their_row(tmp_path):
    embeddings, _, _ = _points(n=3)
    names = ["a\tb.jpg", "line\nbreak.jpg", "plain.jpg"]
    run_dir = tensorboard_runs.write_projector_run(tmp_path / "run", embeddings, {"file": names})
    rows = (run_dir / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert rows == ["a b.jpg", "line break.jpg", "plain.jpg"]
    assert not (run_dir / "sprite.png").exists()
    assert not _read_config(run_dir).embeddings[0].HasField("sprite")


def test_a_new_projector_run_replaces_the_old_one_and_a_failed_one_changes_nothing(tmp_path):
    embeddings, metadata, thumbnails = _points(n=4, seed=1)
    run_dir = tensorboard_runs.write_projector_run(tmp_path / "run", embeddings, metadata, thumbnails)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    with pytest.raises(ValueError, match="one row per point"):
        tensorboard_runs.write_projector_run(run_dir, embeddings, {"file": ["only one"]}, thumbnails)
    with pytest.raises(ValueError, match="8192"):
        tensorboard_runs.write_projector_run(run_dir, embeddings, metadata, thumbnails, thumbnail_size=5000)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no half-written folder left beside it

    new_embeddings = {"features": np.ones((4, 2))}
    tensorboard_runs.write_projector_run(run_dir, new_embeddings, metadata)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        tensorboard_runs.MARKER, "features.tsv", "metadata.tsv", "projector_config.pbtxt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("embeddings, message", [
    ({}, "at least one"),
    ({"logits": np.zeros(3)}, "2-D array"),
    ({"logits": np.array([[0.0], [np.nan], [1.0]])}, "finite"),
    ({"my logits": np.zeros((3, 2))}, "names a file"),
    ({"logits": np.zeros((0, 2))}, "no points"),
])
def test_bad_embeddings_get_a_clear_error(tmp_path, embeddings, message):
    n = len(next(iter(embeddings.values()))) if embeddings else 3
    with pytest.raises(ValueError, match=message):
        tensorboard_runs.write_projector_run(tmp_path / "run", embeddings, {"file": ["x"] * n})
    assert not any(tmp_path.iterdir())


def test_light_tensorboard_serves_the_curves_and_the_graph_without_tensorflow(trained_runs):
    logs = next(iter(trained_runs.values()))[0].parent
    with _tensorboard_server(logs) as server:
        url = server.url
        tags = json.loads(_get(f"{url}/data/plugin/scalars/tags"))
        for name in trained_runs:
            assert {"epoch_loss", "epoch_accuracy"} <= set(tags[f"{name}/train"]) & set(tags[f"{name}/validation"])
        graphs = json.loads(_get(f"{url}/data/plugin/graphs/info"))
        assert graphs["dnn/train"]["tags"]["keras"]["conceptual_graph"]  # the Graphs tab draws the Keras model
        # TensorFlow alone would take about 600 MiB; TensorBoard on its stand-in stays far below
        assert server.memory_mib() < 300, f"TensorBoard takes {server.memory_mib():.0f} MiB: did it import TensorFlow?"


@needs_offline_assets
def test_a_real_tensorboard_serves_the_car_photos_projector_run(tmp_path):
    """The 27 car photos, as notebook 3 writes them, through TensorBoard's projector plugin HTTP API."""
    from helpers import assets, datasets, images

    cars = datasets.load_image_folder(assets.fetch_folder("images/cars"))
    photos = cars.paths + cars.unlabelled
    thumbnails = [images.load_for_model(path, size=48) for path in photos]
    colours = np.array([thumbnail.reshape(-1, 3).mean(axis=0) for thumbnail in thumbnails])  # 3 numbers per photo
    labels = [cars.class_names[label] for label in cars.labels] + ["unlabelled"] * len(cars.unlabelled)
    run_dir = tensorboard_runs.write_projector_run(
        tmp_path / "cars", {"colours": colours}, {"file": [p.name for p in photos], "label": labels}, thumbnails, 48)

    with _tensorboard_server(run_dir) as server:
        url = server.url
        assert json.loads(_get(f"{url}/data/plugin/projector/runs")) == ["."]
        config = json.loads(_get(f"{url}/data/plugin/projector/info?run=."))
        (embedding,) = config["embeddings"]
        assert embedding["tensorShape"] == [27, 3] and embedding["sprite"]["singleImageDim"] == [48, 48]
        tensor = np.frombuffer(_get(f"{url}/data/plugin/projector/tensor?run=.&name=colours"), np.float32)
        np.testing.assert_array_equal(tensor.reshape(27, 3), colours.astype(np.float32))
        rows = _get(f"{url}/data/plugin/projector/metadata?run=.&name=colours").decode().splitlines()
        assert rows[1:] == [f"{p.name}\t{label}" for p, label in zip(photos, labels)]
        assert sum(label == "unlabelled" for label in labels) == 7
        sprite = Image.open(io.BytesIO(_get(f"{url}/data/plugin/projector/sprite_image?run=.&name=colours")))
        assert sprite.size == (6 * 48, 6 * 48)  # 27 photos: a 6 x 6 grid
        cell_1_1 = np.asarray(sprite.convert("RGB"))[48:96, 48:96]
        np.testing.assert_array_equal(cell_1_1, thumbnails[7])  # photo 7: row 1, column 1


def _light_tensorboard():
    """The path of ``going-deeper-tensorboard``, as the notebooks' ``%tensorboard`` finds it."""
    search_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    script = shutil.which(tensorboard_runs.LIGHT_TENSORBOARD, path=search_path)
    assert script, "going-deeper-tensorboard is not installed: pip install -e . (requirements.txt does)"
    return script


class _tensorboard_server:
    """``going-deeper-tensorboard --logdir logdir`` on a free local port, stopped (with its children) on exit."""

    def __init__(self, logdir):
        self.command = [_light_tensorboard(), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", "0"]

    def __enter__(self):
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE, text=True)
        for line in self.process.stderr:  # it prints "TensorBoard 2.x at http://127.0.0.1:PORT/ ..." when ready
            if match := re.search(r"(http://127\.0\.0\.1:\d+)/", line):
                self.url = match.group(1)
                threading.Thread(target=self.process.stderr.read, daemon=True).start()  # keep the pipe flowing
                return self
        raise RuntimeError(f"TensorBoard did not start: {self.command}")

    def memory_mib(self):
        server = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [server, *server.children(recursive=True)]) / 2**20

    def __exit__(self, *exc):
        _stop_with_children(psutil.Process(self.process.pid))
        self.process.stderr.close()


def _get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _stop_with_children(process):
    family = [process, *process.children(recursive=True)]
    for member in family:
        member.terminate()
    _, alive = psutil.wait_procs(family, timeout=15)
    for member in alive:
        member.kill()


# --- the notebooks' TensorBoard cells -------------------------------------------------------------------------


def _tensorboard_cells():
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "%tensorboard" in cell.source:
                yield pytest.param(cell.source, id=path.name)


def _processes_using(text):
    """Processes whose command line holds ``text``, without their children (TensorBoard's data server)."""
    found = [p for p in psutil.process_iter(["cmdline"]) if text in " ".join(p.info["cmdline"] or [])]
    pids = {p.pid for p in found}
    return [p for p in found if p.ppid() not in pids]


def test_notebooks_1_and_3_show_tensorboard():
    assert {p.id for p in _tensorboard_cells()} == {"01_tensorflow_basics_mnist.ipynb", "03_transfer_svm_cars.ipynb"}


@pytest.mark.parametrize("source", list(_tensorboard_cells()))
@pytest.mark.parametrize("headless", [True, False], ids=["headless", "with a reader"])
def test_tensorboard_cell_starts_a_server_only_for_a_reader(tmp_path, monkeypatch, source, headless):
    """The notebook's own cell, run in a kernel. Headless, it prints a note and starts nothing; with a
    reader, it shows TensorBoard serving the run folder. Either way, no process outlives the kernel."""
    (logdir_variable,) = re.findall(r'%tensorboard --logdir "\{(\w+)\}"', source)
    logdir = tmp_path / "runs folder"  # a space: the magic's argument must be quoted
    logdir.mkdir()
    monkeypatch.setenv(tensorboard_runs.HEADLESS_ENV, "1" if headless else "0")
    # the magic runs `tensorboard` from PATH, as it is in an activated virtual environment
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TENSORBOARD_BINARY", raising=False)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"from pathlib import Path\nfrom helpers import tensorboard_runs\n"
                                  f"{logdir_variable} = Path({str(logdir)!r})"),
        nbformat.v4.new_code_cell(source),
    ])
    # the course's kernel environment: this checkout's helpers first on the path, the HEADLESS_ENV set above
    try:
        with Kernel(tmp_path, timeout=120) as kernel:  # the kernel lives until the end of this block
            nb.cells = kernel.run(nb.cells)
            servers = _processes_using(str(logdir))
            outputs = nb.cells[1].outputs
            if headless:
                (note,) = [o.get("text", "") for o in outputs]
                assert note.startswith("Headless run: TensorBoard not started") and str(logdir) in note
                assert servers == [], "a headless run started TensorBoard"
            else:
                assert len(servers) == 1, f"expected one TensorBoard on {logdir}, found {servers}"
                assert _light_tensorboard() in servers[0].cmdline(), servers[0].cmdline()  # the light one
                html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
                port = int(re.search(r"const port = (\d+);", html).group(1))  # the frame points at the server...
                assert "<iframe" in html
                assert json.dumps(tensorboard_runs.FRAME_STOPPED) in html, "the frame would stay on, dead"
                assert json.loads(_get(f"http://localhost:{port}/data/plugins_listing"))  # ...which answers
        time.sleep(1)
        assert _processes_using(str(logdir)) == [], "TensorBoard outlived the kernel"
    finally:
        for server in _processes_using(str(logdir)):  # never leave one behind, even when the test fails
            _stop_with_children(server)


# --- the frame %tensorboard shows ----------------------------------------------------------------------------

FRAME_ID = re.compile(r'<iframe id="(tensorboard-frame-[0-9a-f]+)"')


def tensorboard_frame(monkeypatch, port: int) -> str:
    """The HTML %tensorboard shows for a TensorBoard on ``port``, once the notebook's cell has run."""
    import importlib

    notebook = importlib.import_module("tensorboard.notebook")
    monkeypatch.setattr(notebook, "_display_ipython", notebook._display_ipython)  # put back after the test
    monkeypatch.setattr(notebook, "_get_context", lambda: notebook._CONTEXT_IPYTHON)  # as in a Jupyter kernel
    monkeypatch.setenv("TENSORBOARD_BINARY", "tensorboard")  # use_light_tensorboard() leaves it as it is
    monkeypatch.delenv("TENSORBOARD_PROXY_URL", raising=False)
    tensorboard_runs.use_light_tensorboard()
    tensorboard_runs.use_light_tensorboard()  # the cell run twice: one watch, not two
    shown = []  # through a stand-in for a display handle
    notebook._display(port=port, height=400, display_handle=types.SimpleNamespace(update=shown.append))
    return shown[-1].data


def test_the_tensorboard_frame_watches_its_server(monkeypatch):
    """After a kernel restart the frame stayed on screen, dead, until its cell ran again."""
    html = tensorboard_frame(monkeypatch, 6006)
    frame_id = FRAME_ID.search(html).group(1)
    assert html.count("<iframe") == 1 and html.count("setInterval") == 1
    assert f'document.getElementById("{frame_id}")' in html and json.dumps(tensorboard_runs.FRAME_STOPPED) in html


def test_in_a_browser_a_stopped_tensorboards_frame_gives_way_to_a_note(monkeypatch, tmp_path):
    """Headless Chromium (as tests/test_browser_widgets.py): the frame stays while its server answers."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    chromium = support.chromium()
    if not chromium:
        pytest.skip(support.NO_CHROMIUM)

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    servers = {name: ThreadingHTTPServer(("127.0.0.1", 0), Quiet) for name in ("jupyter", "tensorboard")}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(tensorboard_runs, "FRAME_CHECK_MS", 300)
    frame = tensorboard_frame(monkeypatch, servers["tensorboard"].server_port)
    (tmp_path / "index.html").write_text(f"<html><body>{frame}</body></html>")
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{servers['jupyter'].server_port}/index.html")
            page.wait_for_selector("iframe")
            time.sleep(1.5)  # five checks: the server answers, the frame stays
            assert page.locator("iframe").count() == 1 and page.get_by_text(tensorboard_runs.FRAME_STOPPED).count() == 0
            stopped = servers.pop("tensorboard")  # the kernel restarts: its TensorBoard stops
            stopped.shutdown()
            stopped.server_close()
            page.get_by_text(tensorboard_runs.FRAME_STOPPED).wait_for(timeout=15_000)
            assert page.locator("iframe").count() == 0
            browser.close()
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()
