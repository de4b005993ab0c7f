"""Photos in, model-ready arrays out: load any photo as RGB, crop the middle square, resize.

Safety: only photo formats are decoded (:data:`PHOTO_FORMATS`, chosen from the file's
content, whatever its name: a PostScript file named ``car.jpg`` never reaches
Ghostscript), from files of at most :data:`MAX_FILE_BYTES`, read once (the bytes hashed
are the bytes decoded), with at most :data:`MAX_PIXELS` pixels and an estimated
:data:`DECODE_BUDGET` of memory (a small file can hold a huge image), all threads
together, and progressive JPEGs with at most :data:`MAX_SCANS` scans (each scan is one
more pass over the whole image). Every decoder failure becomes an :class:`ImageError`
naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import files

__all__ = ["DECODE_BUDGET", "MAX_FILE_BYTES", "MAX_PIXELS", "MAX_SCANS", "PHOTO_FORMATS", "ImageError", "bytes_hash",
           "content_hash", "crop_middle_square", "decode_photo", "load_batch", "load_for_model", "load_image",
           "load_image_bytes", "middle_square_box", "model_input", "open_rgb", "photo_formats", "photo_suffixes",
           "read_photo", "resize"]

PHOTO_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP", "TIFF")  # MPO: JPEGs from some cameras
PLUGIN_FORMATS = ("AVIF", "HEIF")  # decoded only where a Pillow plugin for them is installed
# Well below Pillow's own bomb limit (89 MP): a 40 MP photo already takes 120 MB as RGB.
MAX_PIXELS = 40_000_000
# Bigger files are refused before a byte is read (40 MP photos take 5-25 MB as JPEG; the file is
# held in memory while it is decoded).
MAX_FILE_BYTES = 50 * 2**20
# Memory one photo may take while it decodes, and all threads' photos together: with Python,
# NumPy and Pillow loaded (40 MB), decoding any accepted photo stays under 0.5 GiB.
DECODE_BUDGET = 400 * 2**20
# Peak bytes per pixel of decoding a photo as RGB and as a NumPy array, per format, in its most
# expensive mode (measured on Pillow 13 with 40 MP images: WebP decodes to RGBA and copies it;
# transparency is composited on white; 16-bit and float images are stretched in float32).
PEAK_BYTES_PER_PIXEL = {"JPEG": 10, "MPO": 10, "BMP": 10, "PNG": 16, "TIFF": 16, "GIF": 14, "WEBP": 24}
UNMEASURED_BYTES_PER_PIXEL = 24  # AVIF, HEIF: assumed as costly as WebP
# Baseline JPEGs have 1 scan per image, progressive ones about 10; libjpeg passes over the
# whole image once per scan, so a 400 kB file repeating one scan can take minutes (64 scans of
# 40 MP: about 3 s on a 2-core machine).
MAX_SCANS = 64
# Image.reduce (block averaging) stops while the shorter side is still this many times the
# size we need: the final antialiased resize then looks as if it started from full size.
REDUCING_GAP = 3


class ImageError(ValueError):
    """A file could not be used as an image; the message names it and says what to do."""


def photo_formats() -> tuple[str, ...]:
    """The Pillow decoders the course uses: :data:`PHOTO_FORMATS`, plus AVIF/HEIF if a plugin reads them."""
    Image.init()
    return tuple(f for f in PHOTO_FORMATS + PLUGIN_FORMATS if f in Image.OPEN)  # MPO is read by JPEG's


def photo_suffixes() -> set[str]:
    """File name suffixes of the photo formats (``.jpg``, ``.png``, ``.mpo``...)."""
    formats = photo_formats() + ("MPO",)
    return {suffix for suffix, name in Image.registered_extensions().items() if name in formats}


def content_hash(path: str | Path) -> str:
    """sha256 of a file's bytes (:func:`helpers.files.file_digest`), refused above :data:`MAX_FILE_BYTES`.

    To key what was decoded, hash the bytes decoded (:func:`bytes_hash`): the file may change in between.
    """
    with _open_photo_file(path):  # a file too big, missing or unreadable is an ImageError naming it
        return files.file_digest(path)


def bytes_hash(data: bytes) -> str:
    """:func:`content_hash` of a file's bytes already read."""
    return hashlib.sha256(data).hexdigest()


def read_photo(path: str | Path) -> bytes:
    """The bytes of a photo file, read once, at most :data:`MAX_FILE_BYTES` (bigger is an :class:`ImageError`)."""
    with _open_photo_file(path) as file:
        data = file.read(os.fstat(file.fileno()).st_size)  # a size already checked
        if file.read(1):
            raise ImageError(f"{path}: the file grew while it was read (is it being copied or synced?). "
                             f"Try again once it is complete.")
    return data


@contextlib.contextmanager
def _open_photo_file(path: str | Path):
    """Open ``path`` for reading, refusing files above :data:`MAX_FILE_BYTES` before reading; errors name it."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            _check_file_size(os.fstat(file.fileno()).st_size, path)
            yield file
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file. Check the path.") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image file.") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied. Make the file readable (chmod +r).") from None
    except OSError as error:  # any other reason: say which file
        raise ImageError(f"{path}: cannot be read ({error.strerror or error}). Check the path.") from None


def _check_file_size(size: int, name) -> None:
    if size > MAX_FILE_BYTES:
        raise ImageError(
            f"{name}: the file is larger than {MAX_FILE_BYTES / 2**20:.0f} MB, too big for a photo here. "
            f"Save it as a JPEG of at most 4000 pixels a side, or remove it."
        )


def load_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """Load ``path`` as an RGB ``uint8`` array of shape (height, width, 3).

    EXIF orientation is applied (phone photos stand upright); grayscale, palette,
    CMYK, 16-bit and float images are converted; transparency is laid on white.
    ``max_side`` lets decoding skip detail we would throw away (JPEG decodes at a
    reduced scale; other formats are reduced right after decoding); the result is
    at least that large on its shorter side.
    """
    return np.asarray(open_rgb(path, max_side))


def load_image_bytes(data: bytes, name: str = "photo", max_side: int | None = None) -> np.ndarray:
    """:func:`load_image` for a file's content in memory (an upload); ``name`` labels error messages."""
    return np.asarray(decode_photo(data, name, max_side))


def open_rgb(path: str | Path, max_side: int | None = None) -> Image.Image:
    """:func:`load_image` as a Pillow image; every failure becomes an :class:`ImageError`."""
    return decode_photo(read_photo(path), str(path), max_side)


def decode_photo(data: bytes, name: str, max_side: int | None = None) -> Image.Image:
    """A photo file's bytes as an RGB Pillow image, within the limits above; failures are :class:`ImageError`."""
    _check_file_size(len(data), name)
    try:
        with warnings.catch_warnings():
            # Pillow warns above 89 MP; the checks below bound every decode more tightly (a JPEG
            # that big may decode at a reduced scale, in draft mode), so the warning says nothing
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=photo_formats())
        with image:
            if max_side:
                image.draft("RGB", (max_side, max_side))  # JPEG only: decode at reduced scale
            _check_pixel_count(image, name)
            _check_scan_count(image, data, name)
            with _DECODING.reserve(_decode_cost(image, name)):
                image.load()
                ImageOps.exif_transpose(image, in_place=True)
                return _shrink(_to_rgb(image, name), max_side)
    except ImageError:
        raise
    except UnidentifiedImageError:
        what = "is empty (0 bytes)" if not data else f"is not an image in a photo format ({', '.join(photo_formats())})"
        raise ImageError(f"{name}: {what}. Replace it with a JPEG/PNG photo, or remove it from the folder.") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"{name}: {error} Shrink it (4000 pixels a side is plenty) or remove it.") from None
    except Exception as error:  # truncated or corrupt data, or any other failure inside a decoder
        raise ImageError(
            f"{name}: the image data is damaged ({type(error).__name__}: {error}). The file may be "
            f"truncated: download or copy it again, or remove it from the folder."
        ) from None


def _check_pixel_count(image: Image.Image, name: str) -> None:
    """Refuse to decode more than :data:`MAX_PIXELS` (read from the header, before any decoding)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name}: {width}x{height} pixels is more than the {MAX_PIXELS / 1e6:.0f} megapixels the course "
            f"decodes (a small file holding a huge image can fill the memory). Shrink it (4000 pixels a "
            f"side is plenty) or remove it."
        )


def _check_scan_count(image: Image.Image, data: bytes, name: str) -> None:
    """Refuse JPEGs with more than :data:`MAX_SCANS` scans (counted from their markers, before decoding).

    Each scan starts with the bytes FF DA, which the compressed data never contains
    (a data byte FF is always followed by 00): the count is exact, but for an embedded
    thumbnail's scans (and, rarely, metadata bytes), which count too; the limit leaves room.
    """
    if image.format in ("JPEG", "MPO") and (scans := data.count(b"\xff\xda")) > MAX_SCANS:
        raise ImageError(
            f"{name}: a JPEG with {scans} scans (photos have at most about 10; each scan makes decoding "
            f"slower). Save it again as an ordinary JPEG, or remove it."
        )


def _decode_cost(image: Image.Image, name: str) -> int:
    """Bytes decoding ``image`` takes at its peak (after draft), refused above :data:`DECODE_BUDGET`."""
    width, height = image.size
    cost = width * height * PEAK_BYTES_PER_PIXEL.get(image.format, UNMEASURED_BYTES_PER_PIXEL)
    if cost > DECODE_BUDGET:
        raise ImageError(
            f"{name}: decoding this {width}x{height} {image.format} image would take about "
            f"{cost / 2**30:.1f} GiB of memory, more than the {DECODE_BUDGET / 2**30:.1f} GiB the course allows "
            f"a photo. Shrink it (4000 pixels a side is plenty) or save it as a JPEG."
        )
    return cost


class _MemoryBudget:
    """Memory shared by threads that decode at once: each reserves its estimate, and waits while it does not fit.

    Featurizing decodes in several threads; without this, two photos each just within
    :data:`DECODE_BUDGET` would take twice that. One photo alone always fits.
    """

    def __init__(self, limit: int):
        self.limit, self.used, self.changed = limit, 0, threading.Condition()

    @contextlib.contextmanager
    def reserve(self, amount: int):
        amount = min(amount, self.limit)
        with self.changed:
            self.changed.wait_for(lambda: self.used + amount <= self.limit)
            self.used += amount
        try:
            yield
        finally:
            with self.changed:
                self.used -= amount
                self.changed.notify_all()


_DECODING = _MemoryBudget(DECODE_BUDGET)


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _stretch_to_8_bit(image, name)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image)
    return image if image.mode == "RGB" else image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB...


def _stretch_to_8_bit(image: Image.Image, name: str) -> Image.Image:
    """16-bit, 32-bit and float grayscale -> 8 bits, stretching the range of the finite values to 0..255.

    Worked in float32, in place (a 40 MP image takes 160 MB, not 1 GB). NaN and -inf
    pixels become black, +inf white. A uniform image keeps its brightness on the
    type's full scale (0..65535, or 0..1 for float) instead of turning black.
    """
    values = np.array(image, dtype=np.float32)  # a writable copy, even of a float image
    finite = np.isfinite(values)
    if not finite.any():
        raise ImageError(f"{name}: no pixel has a finite value (all NaN or infinite). Replace the file.")
    low = np.min(values, where=finite, initial=np.inf)
    high = np.max(values, where=finite, initial=-np.inf)
    del finite
    if high > low:
        values -= low
        values *= 255 / (high - low)
    else:
        values[...] = low * (255 if image.mode == "F" else 255 / 65535)
    np.clip(values, 0, 255, out=values)  # +inf -> 255, -inf -> 0
    values[np.isnan(values)] = 0
    return Image.fromarray(np.rint(values, out=values).astype(np.uint8))


def _shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """Average blocks of pixels (:meth:`Image.reduce`) while the shorter side stays >= ``REDUCING_GAP * max_side``."""
    factor = min(image.size) // (REDUCING_GAP * max_side) if max_side else 0
    return image.reduce(factor) if factor > 1 else image


def middle_square_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest centred square."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def crop_middle_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of ``image`` (the talk's ``crop_middle_square_area``)."""
    left, top, right, bottom = middle_square_box(image.shape[1], image.shape[0])
    return image[top:bottom, left:right]


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGB array to ``size`` x ``size`` pixels (bilinear, antialiased)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def load_for_model(path: str | Path, size: int, crop: bool = True) -> np.ndarray:
    """Load a photo, crop its middle square (or squash it if ``crop=False``), resize to ``size``."""
    return model_input(read_photo(path), str(path), size, crop)


def model_input(data: bytes, name: str, size: int, crop: bool = True) -> np.ndarray:
    """:func:`load_for_model` of a photo file's bytes already read (``name`` labels error messages)."""
    image = decode_photo(data, name, max_side=size)
    box = middle_square_box(*image.size) if crop else None
    # Pillow crops and resizes in one pass, three times faster than crop_middle_square +
    # resize through NumPy, with the same pixels except the outermost row and column.
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=box))


def load_batch(paths, size: int, crop: bool = True) -> np.ndarray:
    """Stack :func:`load_for_model` of several photos into a (n, size, size, 3) uint8 array."""
    return np.stack([load_for_model(p, size, crop) for p in paths])
