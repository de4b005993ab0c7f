"""helpers.uploads.download_image: notebook 2's URL box against a hostile server on 127.0.0.1."""

import contextlib
import io
import time

import pytest
import support
from PIL import Image

from helpers import images, uploads


def jpeg_bytes(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(buffer, "JPEG", quality=50)
    return buffer.getvalue()


PHOTO = jpeg_bytes(640, 480)
BIG_PHOTO = jpeg_bytes(6000, 4500)  # 27 MP, 100 kB: decoded at a reduced scale


class PhotoServer(support.Handler):
    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if name == "photo.jpg" or name.startswith("x" * 50):
            self.send(200, PHOTO, "image/jpeg")
        elif name == "big.jpg":
            self.send(200, BIG_PHOTO, "image/jpeg")
        elif name == "page":
            self.send(200, b"<html>a page about cars</html>", "text/html; charset=utf-8")
        elif name == "huge":  # announces 1 GiB
            self.send_response(200)
            self.send_header("Content-Length", str(2**30))
            self.end_headers()
        elif name == "endless":  # no length, never ends
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client hangs up
                while True:
                    self.wfile.write(bytes(64 * 1024))
        elif name == "trickle":  # a byte at a time: no single read times out
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client hangs up
                for _ in range(100):
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(0.05)
        elif name in ("slow-status", "slow-headers"):  # each byte in time, the whole never: one read at a time
            head = b"HTTP/1.0 200 OK\r\n" + b"X-Padding: " + b"x" * 1000 + b"\r\n\r\n"
            with contextlib.suppress(OSError):  # the client hangs up
                if name == "slow-headers":
                    self.wfile.write(head[:17])
                for byte in head[17 if name == "slow-headers" else 0 :]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
        else:
            self.send(404, b"not found", "text/plain")


@pytest.fixture(scope="module")
def server():
    with support.serve(PhotoServer) as url:
        yield url


def test_a_photo_is_downloaded_and_decoded(server):
    assert uploads.download_image(f"{server}/photo.jpg").shape == (480, 640, 3)


def test_a_big_photo_is_decoded_at_a_reduced_scale(server):
    assert 1024 <= min(uploads.download_image(f"{server}/big.jpg", max_side=1024).shape[:2]) < 2048


@pytest.mark.parametrize("url_path, message", [
    ("/huge", "larger than 1 MB"),
    ("/endless", "larger than 1 MB"),
    ("/trickle", "took more than 1 s"),
    ("/slow-status", "took more than 1 s"),  # the deadline covers the whole request, not only the body
    ("/slow-headers", "took more than 1 s"),
    ("/page", "is a web page, not an image"),
    ("/missing.jpg", "Could not download .*404"),
    ("/..", "Could not download .*404"),
    ("/" + "x" * 300 + ".png", "is not an image"),  # served as a JPEG under a long PNG name: decoded by content
])
def test_every_failure_is_one_readable_line(server, url_path, message):
    start = time.monotonic()
    if url_path.startswith("/x"):
        assert uploads.download_image(server + url_path, max_bytes=2**20, deadline=1).shape == (480, 640, 3)
        return
    with pytest.raises(images.ImageError, match=message) as error:
        uploads.download_image(server + url_path, max_bytes=2**20, deadline=1)
    assert "\n" not in str(error.value) and time.monotonic() - start < 5


@pytest.mark.parametrize("url, message", [
    ("", "Paste the address"),
    ("file:///etc/passwd", "is not a web address"),
    ("http://127.0.0.1:9/refused.jpg", "Could not download"),
    ("http://[not-a-host/x.jpg", "Could not download|is not a web address"),
])
def test_bad_addresses(url, message):
    with pytest.raises(images.ImageError, match=message):
        uploads.download_image(url)
