"""helpers.images: the worst photos the course accepts decode within 0.5 GiB and 10 s; worse ones are refused first.

Memory is the peak RSS, time the CPU time, of a fresh Python process that imports only
helpers.images (what Pillow and NumPy really allocate, not what Python traces), on files
made here: the largest image each format's memory estimate lets through, in its most
expensive mode.
"""

import io
import json
import math
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from helpers import images

MAX_RSS = 0.5 * 2**30  # Binder gives a whole session 2 GB: one photo may not take a quarter of it
MAX_SECONDS = 10

MEASURE = """
import json, resource, sys
from concurrent.futures import ThreadPoolExecutor
from helpers import images
max_side = int(sys.argv[1]) or None
def decode(path):
    try:
        images.load_image(path, max_side=max_side)
        return "decoded"
    except images.ImageError as error:
        return str(error)
with ThreadPoolExecutor(max_workers=len(sys.argv) - 2) as pool:  # all at once, as featurize's threads
    outcomes = list(pool.map(decode, sys.argv[2:]))
usage = resource.getrusage(resource.RUSAGE_SELF)
try:  # this process's own peak: Linux's ru_maxrss keeps the parent's RSS at the fork, whatever pytest holds
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except OSError:  # macOS: no /proc, and ru_maxrss is in bytes
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"outcomes": outcomes, "seconds": usage.ru_utime + usage.ru_stime, "peak": peak}))
"""


def decode_in_fresh_process(paths, max_side=None) -> dict:
    """Decode ``paths`` in parallel threads of a new Python process: its outcomes, CPU seconds and peak RSS.

    CPU seconds (Python's start included), not wall time: what the photo costs, whatever else
    the machine runs at the same time (CI runs three legs at once on two cores).
    """
    done = subprocess.run([sys.executable, "-c", MEASURE, str(max_side or 0), *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def largest_accepted_side(image_format: str, bytes_per_pixel_in_file: float = 0) -> int:
    """The side of the biggest square image of ``image_format`` that the limits let through."""
    pixels = min(images.MAX_PIXELS, images.DECODE_BUDGET // images.PEAK_BYTES_PER_PIXEL[image_format])
    if bytes_per_pixel_in_file:  # uncompressed formats: the file size limit comes first
        pixels = min(pixels, (images.MAX_FILE_BYTES - 2**16) / bytes_per_pixel_in_file)
    return math.isqrt(int(pixels))


# (mode, format, save options, bytes per pixel in an uncompressed file): each format's costliest modes
WORST_CASES = {
    "jpeg-rgb": ("RGB", "JPEG", {}, 0),
    "jpeg-cmyk": ("CMYK", "JPEG", {}, 0),
    "png-rgba": ("RGBA", "PNG", {}, 0),
    "png-16-bit": ("I;16", "PNG", {}, 0),
    "gif-transparent": ("P", "GIF", {"transparency": 0}, 0),
    "bmp": ("RGB", "BMP", {}, 3),
    "webp-rgba": ("RGBA", "WEBP", {"lossless": True}, 0),
    "webp-rgb": ("RGB", "WEBP", {}, 0),
    "tiff-float": ("F", "TIFF", {"compression": "tiff_deflate"}, 0),
    "tiff-rgba": ("RGBA", "TIFF", {"compression": "tiff_deflate"}, 0),
}


@pytest.mark.parametrize("case", WORST_CASES)
def test_the_largest_accepted_photo_decodes_within_half_a_gib(tmp_path, case):
    mode, image_format, options, file_bytes_per_pixel = WORST_CASES[case]
    side = largest_accepted_side(image_format, file_bytes_per_pixel)
    path = tmp_path / f"{case}.{image_format.lower()}"
    Image.new(mode, (side, side)).save(path, image_format, **options)  # one colour: a tiny file, a huge image
    measured = decode_in_fresh_process([path])  # full size, as notebook 2 shows its samples
    assert measured["outcomes"] == ["decoded"], f"{case} ({side}x{side}) was refused"
    assert measured["peak"] < MAX_RSS and measured["seconds"] < MAX_SECONDS, measured


def test_a_tiny_webp_just_under_40_megapixels_is_refused_before_decoding(tmp_path):
    """The red team's bomb: 1.7 kB, 40 MP, 0.9 GiB to decode; two at once in featurize's threads: 1.85 GiB."""
    bombs = []
    for name in ("one.webp", "two.webp"):
        Image.new("RGBA", (6320, 6320)).save(tmp_path / name, "WEBP", lossless=True)
        bombs.append(tmp_path / name)
    assert bombs[0].stat().st_size < 5000
    measured = decode_in_fresh_process(bombs, max_side=224)
    assert all("would take about 0.9 GiB of memory" in outcome for outcome in measured["outcomes"]), measured
    assert measured["peak"] < MAX_RSS, measured


def test_threads_decoding_at_once_share_one_memory_budget(tmp_path):
    """Two photos, each just within the budget, decoded by two threads at once, stay within it together."""
    side = largest_accepted_side("WEBP")
    paths = [tmp_path / "one.webp", tmp_path / "two.webp"]
    for path in paths:
        Image.new("RGBA", (side, side)).save(path, "WEBP", lossless=True)
    measured = decode_in_fresh_process(paths, max_side=224)  # featurize's path: 224 pixels wanted
    assert measured["outcomes"] == ["decoded", "decoded"]
    assert measured["peak"] < MAX_RSS, measured


# --- progressive JPEGs: one pass over the whole image per scan ---------------------------------

def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """A JPEG's (marker, bytes) pieces; a scan's piece holds its header and its compressed data."""
    pos, pieces = 2, [(0xD8, data[:2])]
    while data[pos + 1] != 0xD9:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if marker == 0xDA:  # compressed data runs to the next marker: FF not followed by 00 or a restart
            while not (data[end] == 0xFF and data[end + 1] not in (0, *range(0xD0, 0xD8))):
                end += 1
        pieces.append((marker, data[pos:end]))
        pos = end
    return pieces + [(0xD9, data[pos:])]


def repeated_scan_jpeg(width: int, height: int, scans: int) -> bytes:
    """A progressive JPEG whose smallest scan is repeated until it has ``scans`` scans (libjpeg decodes it)."""
    blocks = np.random.default_rng(0).integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(blocks).resize((width, height)).save(buffer, "JPEG", progressive=True, quality=90)
    pieces = jpeg_segments(buffer.getvalue())
    scan_at = [i for i, (marker, _) in enumerate(pieces) if marker == 0xDA]
    smallest = min(scan_at, key=lambda i: len(pieces[i][1]))
    repeated = [pieces[smallest][1]] * (scans - len(scan_at))
    return b"".join([piece for _, piece in pieces[: smallest + 1]] + repeated
                    + [piece for _, piece in pieces[smallest + 1 :]])


def test_a_jpeg_repeating_a_scan_is_refused_before_decoding(tmp_path, monkeypatch):
    bomb = tmp_path / "scans.jpg"
    bomb.write_bytes(repeated_scan_jpeg(512, 512, 3000))  # 38 s for 436 kB at 40 MP; here, small
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded a scan bomb"))
    with pytest.raises(images.ImageError, match=r"scans\.jpg: a JPEG with 3000 scans"):
        images.load_for_model(bomb, 224)
    with pytest.raises(images.ImageError, match="3000 scans"):
        images.load_image_bytes(bomb.read_bytes(), "upload.jpg", max_side=1024)  # notebook 2's upload and URL path


def test_the_slowest_accepted_jpeg_decodes_within_10_seconds(tmp_path):
    path = tmp_path / "slow.jpg"
    side = math.isqrt(images.MAX_PIXELS)
    path.write_bytes(repeated_scan_jpeg(side, side, images.MAX_SCANS))
    assert path.stat().st_size <= images.MAX_FILE_BYTES
    measured = decode_in_fresh_process([path])
    assert measured["outcomes"] == ["decoded"]
    assert measured["seconds"] < MAX_SECONDS and measured["peak"] < MAX_RSS, measured


def test_an_ordinary_progressive_jpeg_decodes(tmp_path):
    path = tmp_path / "progressive.jpg"
    Image.new("RGB", (640, 480), "orange").save(path, progressive=True)
    assert images.load_image(path).shape == (480, 640, 3)


# --- files too big to be photos are refused before they are read -------------------------------

def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as file:  # sparse: takes no disk
        file.truncate(4 * images.MAX_FILE_BYTES)
    tracemalloc.start()
    try:
        for read in (images.content_hash, images.load_image, lambda path: images.load_for_model(path, 224)):
            with pytest.raises(images.ImageError, match=r"huge\.jpg: the file is larger than 50 MB"):
                read(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_the_bytes_hashed_are_the_bytes_decoded(tmp_path):
    """content_hash streams the file; the same digest comes from the bytes read_photo reads once."""
    path = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), "teal").save(path)
    data = images.read_photo(path)
    assert images.bytes_hash(data) == images.content_hash(path)
    assert images.model_input(data, "photo.png", 64).shape == (64, 64, 3)


# --- Pillow's decompression-bomb warning: not for photos the course decodes safely -------------

def test_no_bomb_warning_for_a_big_jpeg_decoded_at_a_reduced_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000 * 1000)  # as a 100 MP photo against Pillow's 89 MP
    path = tmp_path / "big.jpg"
    Image.new("RGB", (1500, 1000), "navy").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert images.load_for_model(path, 224).shape == (224, 224, 3)  # draft: decoded at 1/4, 0.1 MP
