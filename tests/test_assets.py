"""helpers.assets: offline folder first, then cache, then a verified, atomic download.

Every download fault is simulated with a real HTTP server on 127.0.0.1.
"""

import errno
import hashlib
import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pooch
import pytest

import support
from helpers import assets, files

PAYLOAD = bytes(range(256)) * 400  # 100 kB, several download chunks
SHA256 = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


def hdf5_bytes() -> bytes:
    """A small HDF5 file, like a weights file (which has no published hash for MobileNetV2)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("kernel", data=np.arange(20000, dtype="float32"))
    return buffer.getvalue()


WEIGHTS = hdf5_bytes()


class Handler(support.Handler):
    def do_GET(self):
        if self.path == "/good.bin":
            self.send(200, PAYLOAD)
        elif self.path == "/truncated.bin":  # promises 100 kB, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.connection.close()
        elif self.path == "/broken":
            self.send(500, b"internal error")
        elif self.path == "/portal":  # a captive portal answers every address with its login page
            self.send(200, b"<!DOCTYPE html><html><body>Log in to the caf\xc3\xa9 Wi-Fi</body></html>")
        elif self.path == "/half.h5":  # a complete-looking response holding half of the weights file
            self.send(200, WEIGHTS[: len(WEIGHTS) // 2])
        elif self.path == "/weights.h5":
            self.send(200, WEIGHTS)
        elif self.path == "/slow.jpg":  # starts, then stalls: the client is killed meanwhile
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:5000])
            self.wfile.flush()
            time.sleep(3)
        else:
            self.send(404, b"not found")


@pytest.fixture(scope="module")
def server():
    with support.serve(Handler) as url:
        yield url


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache, no offline folder, downloads allowed."""
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(assets.OFFLINE_ENV, raising=False)
    monkeypatch.delenv(assets.NO_DOWNLOAD_ENV, raising=False)
    return tmp_path / "cache"


def use_registry(monkeypatch, *entries):
    table = {e.path: e for e in entries}
    monkeypatch.setattr(assets, "registry", lambda: table)


def files_in(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the registry ------------------------------------------------------------------------

def test_registry_has_every_course_asset():
    table = assets.registry()
    assert len([p for p in table if p.startswith("images/cars/Classic/")]) == 10
    assert len([p for p in table if p.startswith("images/cars/Modern/")]) == 10
    assert len([p for p in table if p.count("/") == 2 and p.startswith("images/cars/")]) == 7
    for needed in ["keras/datasets/mnist.npz", "keras/models/imagenet_class_index.json",
                   "images/samples/coral-cat.bmp", "images/samples/cat-with-tongue_224x224.jpg"]:
        assert needed in table
    for asset in table.values():
        assert asset.url.startswith("https://")
        assert asset.known_hash is None or asset.known_hash.split(":")[0] in {"sha256", "md5"}
    # photos are verified with sha256, and come from pinned commits, never from this repository
    photos = [a for a in table.values() if a.path.startswith("images/")]
    assert all(a.known_hash.startswith("sha256:") and "raw.githubusercontent.com" in a.url for a in photos)


def test_offline_folder_is_used_as_is(cache, tmp_path, monkeypatch):
    offline = tmp_path / "usb"
    (offline / "data").mkdir(parents=True)
    (offline / "data" / "x.bin").write_bytes(PAYLOAD)  # matches its published hash: no warning
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    use_registry(monkeypatch, assets.Asset("data/x.bin", SHA256, "http://127.0.0.1:9/unused"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert assets.fetch("data/x.bin") == offline / "data" / "x.bin"
    assert files_in(cache) == []


def test_an_offline_file_that_does_not_match_its_published_hash_is_named_once(cache, tmp_path, monkeypatch):
    """No manifest vouches for it: the hash assets.tsv publishes is checked (damaged weights load fine)."""
    offline = tmp_path / "usb"
    (offline / "data").mkdir(parents=True)
    placed = offline / "data" / "x.bin"
    placed.write_bytes(PAYLOAD[:-1] + b"!")  # one byte damaged
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    use_registry(monkeypatch, assets.Asset("data/x.bin", SHA256, "http://127.0.0.1:9/unused"))
    with pytest.warns(assets.AssetWarning, match=f"{placed}: does not match the sha256 that assets.tsv publishes"
                                                 f".*damaged.*Copy it again from the original offline folder"):
        assert assets.fetch("data/x.bin") == placed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process for each version of the file
        assets.fetch("data/x.bin")
        assets.fetch_folder("data")
    # A bundle manifest that lists the file vouches for it (the bundle's builder checked the published hash).
    assets.write_manifest(offline, ["data/x.bin"])
    placed.write_bytes(PAYLOAD[:-1] + b"?")  # a new version of the file...
    os.utime(placed, ns=(1, 1))
    with pytest.raises(assets.AssetError, match="does not match the sha256 in the bundle manifest"):
        assets.fetch("data/x.bin")  # ...which the manifest catches


def test_offline_folder_that_does_not_exist(cache, tmp_path, monkeypatch):
    monkeypatch.setenv(assets.OFFLINE_ENV, str(tmp_path / "no-such-stick"))
    with pytest.raises(assets.AssetError, match="no-such-stick is not a folder"):
        assets.fetch("keras/datasets/mnist.npz")


def test_unknown_asset(cache):
    with pytest.raises(assets.AssetError, match="Unknown asset 'nope.bin'"):
        assets.fetch("nope.bin")


# --- downloads ---------------------------------------------------------------------------

def test_download_is_verified_cached_and_never_repeated(cache, server, monkeypatch):
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, f"{server}/good.bin"))
    path = assets.fetch("data/good.bin", progress=False)
    assert path == cache / "data" / "good.bin" and path.read_bytes() == PAYLOAD
    # a second fetch must not touch the network: point the URL at a dead port
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, "http://127.0.0.1:9/dead"))
    assert assets.fetch("data/good.bin", progress=False) == path


def test_corrupt_cache_entry_is_downloaded_again(cache, server, monkeypatch):
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, f"{server}/good.bin"))
    (cache / "data").mkdir(parents=True)
    (cache / "data" / "good.bin").write_bytes(PAYLOAD[:10])  # e.g. left by another tool
    assert assets.fetch("data/good.bin", progress=False).read_bytes() == PAYLOAD


@pytest.mark.parametrize("url_path, known_hash, reason", [
    ("/missing.bin", SHA256, "404"),
    ("/broken", SHA256, "500"),
    ("/truncated.bin", SHA256, "(?i)(incomplete|connection|broken|IncompleteRead)"),
    ("/truncated.bin", None, "(?i)(incomplete|connection|broken|IncompleteRead)"),  # no hash: length check
    ("/good.bin", "sha256:" + "0" * 64, "(?i)hash"),
])
def test_failed_download_leaves_nothing_and_says_what_to_do(cache, server, monkeypatch,
                                                             url_path, known_hash, reason):
    use_registry(monkeypatch, assets.Asset("data/thing.bin", known_hash, server + url_path))
    with pytest.raises(assets.AssetError) as error:
        assets.fetch("data/thing.bin", progress=False)
    message = str(error.value)
    assert "'data/thing.bin'" in message and server + url_path in message
    assert assets.OFFLINE_ENV in message and "Nothing was saved" in message
    assert re.search(reason, message), message
    assert files_in(cache) == []  # no partial or temporary file poisons the cache


def test_a_full_disk_says_so_not_check_your_connection(cache, monkeypatch):
    use_registry(monkeypatch, assets.Asset("data/thing.bin", SHA256, "http://127.0.0.1:9/thing.bin"))

    def fill_the_disk(self, url, output_file, pooch_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", fill_the_disk)
    with pytest.raises(assets.AssetError) as error:
        assets.fetch("data/thing.bin", progress=False)
    message = str(error.value)
    assert f"the disk is full ({cache / 'data'})" in message and "internet" not in message
    assert files_in(cache) == []


def test_a_malformed_bundle_manifest_is_named(cache, tmp_path, monkeypatch):
    offline = tmp_path / "usb"
    (offline / "data").mkdir(parents=True)
    (offline / "data" / "x.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    use_registry(monkeypatch, assets.Asset("data/x.bin", SHA256, "http://127.0.0.1:9/unused"))
    for text in ["path\tbytes\tsha256\ndata/x.bin\tmany\tabc\n", "file\tsize\ndata/x.bin\t3\n",
                 "path\tbytes\tsha256\ndata/x.bin\n"]:
        (offline / assets.BUNDLE_MANIFEST).write_text(text)
        with pytest.raises(assets.AssetError, match=f"{offline / assets.BUNDLE_MANIFEST}: not a bundle manifest"
                                                    f".*python -m helpers.bundle {offline}"):
            assets.fetch("data/x.bin")


def test_network_unreachable(cache, monkeypatch):
    use_registry(monkeypatch, assets.Asset("data/thing.bin", SHA256, "http://127.0.0.1:9/thing.bin"))
    with pytest.raises(assets.AssetError, match=r"(?s)Could not download asset 'data/thing.bin'.*Connection"):
        assets.fetch("data/thing.bin", progress=False)
    assert files_in(cache) == []


def test_interrupted_download_leaves_nothing(cache, server, monkeypatch):
    """Ctrl-C in the middle of a download: the half-written temporary file is removed."""
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, f"{server}/good.bin"))

    def interrupted(self, url, output_file, pooch_):
        with open(output_file, "wb") as f:
            f.write(PAYLOAD[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        assets.fetch("data/good.bin", progress=False)
    assert files_in(cache) == []


def test_downloads_can_be_forbidden(cache, server, monkeypatch):
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, f"{server}/good.bin"))
    with pytest.raises(assets.AssetError, match="downloads are disabled"):
        assets.fetch("data/good.bin", progress=False)
    assert files_in(cache) == []


# --- folders -----------------------------------------------------------------------------

def test_fetch_folder_gathers_a_partial_offline_folder_in_the_cache(cache, server, tmp_path, monkeypatch):
    offline = tmp_path / "usb"
    (offline / "pics" / "A").mkdir(parents=True)
    (offline / "pics" / "A" / "one.bin").write_bytes(b"from the stick")
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    use_registry(
        monkeypatch,
        assets.Asset("pics/A/one.bin", None, "http://127.0.0.1:9/dead"),
        assets.Asset("pics/B/two.bin", SHA256, f"{server}/good.bin"),
    )
    folder = assets.fetch_folder("pics", progress=False)
    assert folder == cache / "pics"
    assert (folder / "A" / "one.bin").read_bytes() == b"from the stick"
    assert (folder / "B" / "two.bin").read_bytes() == PAYLOAD
    # a second call finds everything gathered: nothing is copied or downloaded again
    monkeypatch.setattr(files, "copy_atomically", lambda *a: pytest.fail("copied again"))
    monkeypatch.setattr(assets, "_download", lambda *a: pytest.fail("downloaded again"))
    assert assets.fetch_folder("pics", progress=False) == folder


def test_fetch_folder_uses_a_complete_offline_folder_in_place(cache, tmp_path, monkeypatch):
    offline = tmp_path / "usb"
    (offline / "pics").mkdir(parents=True)
    (offline / "pics" / "one.bin").write_bytes(b"x")
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    use_registry(monkeypatch, assets.Asset("pics/one.bin", None, "http://127.0.0.1:9/dead"))
    assert assets.fetch_folder("pics") == offline / "pics"
    with pytest.raises(assets.AssetError, match="No asset is listed under 'nothing'"):
        assets.fetch_folder("nothing")


# --- downloads that must never enter the cache ----------------------------------------------

@pytest.mark.parametrize("url_path, reason", [
    ("/portal", "web page"),
    ("/half.h5", "not a readable .h5 file"),  # HDF5 knows its own length
])
def test_unhashed_download_is_checked_before_it_enters_the_cache(cache, server, monkeypatch, url_path, reason):
    use_registry(monkeypatch, assets.Asset("keras/models/w.h5", None, server + url_path))
    with pytest.raises(assets.AssetError, match=rf"(?s)'keras/models/w.h5'.*{reason}.*Nothing was saved"):
        assets.fetch("keras/models/w.h5", progress=False)
    assert files_in(cache) == []


def test_a_bad_file_already_in_the_cache_is_downloaded_again(cache, server, monkeypatch):
    use_registry(monkeypatch, assets.Asset("keras/models/w.h5", None, f"{server}/weights.h5"))
    (cache / "keras" / "models").mkdir(parents=True)
    (cache / "keras" / "models" / "w.h5").write_bytes(WEIGHTS[:5000])  # cached by an older version
    assert assets.fetch("keras/models/w.h5", progress=False).read_bytes() == WEIGHTS


def test_learners_see_no_developer_advice(cache, server, monkeypatch, capfd):
    """pooch.retrieve logs "use this value as known_hash" for unhashed files; learners must not see it."""
    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    pooch.get_logger().addHandler(handler)  # pooch's logger is its own, outside logging's tree
    try:
        use_registry(monkeypatch, assets.Asset("keras/models/w.h5", None, f"{server}/weights.h5"))
        assets.fetch("keras/models/w.h5", progress=False)
    finally:
        pooch.get_logger().removeHandler(handler)
    assert [record.getMessage() for record in logged] == []
    assert "known_hash" not in "".join(capfd.readouterr())


def test_downloads_get_the_users_normal_permissions(cache, server, monkeypatch):
    monkeypatch.setattr(files, "FILE_MODE", 0o644)  # what umask 022 gives (set once, at import)
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, f"{server}/good.bin"))
    assert assets.fetch("data/good.bin", progress=False).stat().st_mode & 0o777 == 0o644


def test_file_mode_follows_the_umask():
    code = "import os; os.umask(0o027); from helpers import files; print(oct(files.FILE_MODE))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "0o640"


def test_a_killed_download_leaves_nothing_the_photo_loader_reads(cache, server, monkeypatch):
    """Two processes: one downloads a photo and is killed mid-way; the folder must stay usable."""
    from helpers import datasets, files

    photo = "images/cars/Classic/slow.jpg"
    code = (f"from helpers import assets; assets.registry = lambda: {{{photo!r}: "
            f"assets.Asset({photo!r}, None, {server + '/slow.jpg'!r})}}; assets.fetch({photo!r}, progress=False)")
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    folder = cache / "images" / "cars" / "Classic"
    for _ in range(200):  # wait until the download has started writing
        if folder.is_dir() and any(p.stat().st_size for p in folder.iterdir()):
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    leftovers = list(folder.iterdir())
    assert leftovers and all(p.name.startswith(".") for p in leftovers)  # hidden: skipped by loaders
    assert datasets.image_files(folder) == []
    # a stale leftover is swept by the next download into that folder
    for leftover in leftovers:
        os.utime(leftover, (time.time() - 2 * files.STALE_AFTER,) * 2)
    use_registry(monkeypatch, assets.Asset("images/cars/Classic/good.jpg", SHA256, f"{server}/good.bin"))
    assets.fetch("images/cars/Classic/good.jpg", progress=False)
    assert files_in(cache) == ["good.jpg"]


def test_two_processes_writing_one_file_never_collide(tmp_path):
    """Two kernels sharing a cache write the same entries: unique temporary names, no lost or torn file."""
    target = tmp_path / "shared" / "entry.npy"
    code = ("import sys, numpy as np; from helpers import files\n"
            "value = np.full(200_000, float(sys.argv[1]))\n"
            "for _ in range(100):\n"
            "    with files.atomic_write(sys.argv[2]) as f: np.save(f, value)\n")
    writers = [subprocess.Popen([sys.executable, "-c", code, str(i), str(target)], stderr=subprocess.PIPE)
               for i in (1, 2)]
    errors = [w.communicate()[1].decode() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    saved = np.load(target)
    assert saved.shape == (200_000,) and len(set(saved.tolist())) == 1  # one writer's array, whole
    assert os.listdir(target.parent) == ["entry.npy"]


# --- settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, disabled", [("1", True), ("yes", True), ("true", True), ("0", False),
                                             ("false", False), ("no", False), ("No", False), ("", False)])
def test_no_download_setting_reads_like_a_yes_or_no(monkeypatch, value, disabled):
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, value)
    assert assets.downloads_disabled() is disabled


def test_no_download_zero_allows_downloads(cache, server, monkeypatch):
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "0")
    use_registry(monkeypatch, assets.Asset("data/good.bin", SHA256, f"{server}/good.bin"))
    assert assets.fetch("data/good.bin", progress=False).read_bytes() == PAYLOAD


def test_a_relative_offline_folder_works_from_the_notebooks_folder(cache, tmp_path, monkeypatch):
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "usb" / "data").mkdir(parents=True)
    (course / "usb" / "data" / "x.bin").write_bytes(b"from the stick")
    monkeypatch.setattr(assets, "COURSE_DIR", course, raising=False)
    monkeypatch.chdir(course / "notebooks")  # where Jupyter runs a notebook
    monkeypatch.setenv(assets.OFFLINE_ENV, "usb")  # set relative to the course folder
    use_registry(monkeypatch, assets.Asset("data/x.bin", None, "http://127.0.0.1:9/unused"))
    assert assets.fetch("data/x.bin").read_bytes() == b"from the stick"
    monkeypatch.setenv(assets.OFFLINE_ENV, "no-such-stick")
    with pytest.raises(assets.AssetError, match=r"no-such-stick is not a folder \(looked for .*absolute path"):
        assets.fetch("data/x.bin")
