"""helpers.assets: offline folder first, then cache, then a verified, atomic download.

Every download fault is simulated with a real HTTP server on 127.0.0.1.
"""

import hashlib
import http.server
import re
import threading

import pooch
import pytest

from helpers import assets

PAYLOAD = bytes(range(256)) * 400  # 100 kB, several download chunks
SHA256 = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
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
        else:
            self.send(404, b"not found")

    def send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


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
    (offline / "data" / "x.bin").write_bytes(b"placed by hand")  # hash not checked: used as placed
    monkeypatch.setenv(assets.OFFLINE_ENV, str(offline))
    use_registry(monkeypatch, assets.Asset("data/x.bin", SHA256, "http://127.0.0.1:9/unused"))
    assert assets.fetch("data/x.bin") == offline / "data" / "x.bin"
    assert files_in(cache) == []


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
    monkeypatch.setattr(assets.shutil, "copyfile", lambda *a: pytest.fail("copied again"))
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
