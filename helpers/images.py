"""Photos in, model-ready arrays out: load any photo as RGB, crop the middle square, resize.

Also a folder-per-class loader (:func:`load_image_folder`): sub-folder names are the
labels, loose image files in the top folder are unlabelled test photos, as in the talk.

Safety: only photo formats are decoded (:data:`PHOTO_FORMATS`, chosen from the file's
content, whatever its name: a PostScript file named ``car.jpg`` never reaches
Ghostscript), from files of at most :data:`MAX_FILE_BYTES`, read once (the bytes hashed
are the bytes decoded), with at most :data:`MAX_PIXELS` pixels and an estimated
:data:`DECODE_BUDGET` of memory (a small file can hold a huge image), all threads
together, and progressive JPEGs with at most :data:`MAX_SCANS` scans (each scan is one
more pass over the whole image). Every decoder failure becomes an :class:`ImageError`
naming the file.

Junk-file policy: hidden files (names starting with ``.``, such as ``.DS_Store``
or macOS ``._photo.jpg`` shadows) and ``Thumbs.db`` / ``desktop.ini`` are skipped
silently. In a class folder any other file must be a photo; if it is not, you get an
:class:`ImageError` naming the file, rather than a silently smaller dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import os
import socket
import threading
import urllib.request
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
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
# Difference hashes (64 bits, see difference_hash) of a photo and its re-saved or resized copy
# differ in 0-2 bits; those of the course's 27 different cars in 16 or more.
NEAR_DUPLICATE_BITS = 6
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


def is_junk(path: Path) -> bool:
    """Files the loaders skip on purpose: hidden files and OS thumbnails/settings."""
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def content_hash(path: str | Path) -> str:
    """sha256 of a file's bytes: the same photo under any name or in any folder has the same hash.

    Read in chunks (a huge file never sits in memory) and refused, as :func:`read_photo`
    refuses it, above :data:`MAX_FILE_BYTES`. To key what was decoded, hash the bytes that
    were decoded (:func:`bytes_hash` of :func:`read_photo`'s): the file may change in between.
    """
    digest = hashlib.sha256()
    with _open_photo_file(path) as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
            _check_file_size(file.tell(), path)  # a file that grew since it was opened
    return digest.hexdigest()


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


# --- photos from the web -------------------------------------------------------------------

def download_image(url: str, max_bytes: int = 20 * 2**20, deadline: float = 30.0,
                   max_side: int | None = 1024) -> np.ndarray:
    """A photo from the web as an RGB array, for the notebooks' "classify this URL" box.

    At most ``max_bytes`` are read, within ``deadline`` seconds in all, from connecting to
    the last byte (a server that trickles its headers or body cannot hang the notebook),
    and decoded as :func:`load_image_bytes` does, with ``max_side`` (JPEGs decode at a
    reduced scale). Nothing is written to disk.
    Every failure is an :class:`ImageError` with one readable line.
    """
    url = (url or "").strip()
    if not url:
        raise ImageError("Paste the address of an image into the URL box first.")
    try:
        scheme = urlparse(url).scheme
    except ValueError:  # e.g. an unclosed "[" in the host
        scheme = None
    if scheme not in ("http", "https"):
        raise ImageError(f"{url[:100]!r} is not a web address: it should start with http:// or https://")
    try:
        data = _read_url(url, max_bytes, deadline)
    except ImageError:
        raise
    except Exception as error:  # unreachable host, HTTP error, timeout, malformed URL...
        raise ImageError(f"Could not download {url[:100]}: {str(error) or type(error).__name__}") from None
    return load_image_bytes(data, url[:100], max_side)


def _read_url(url: str, max_bytes: int, deadline: float) -> bytes:
    import ssl

    import certifi  # requests' certificates: Python's own are missing on some Macs

    request = urllib.request.Request(url, headers={"User-Agent": "going-deeper-course"})
    context = ssl.create_default_context(cafile=certifi.where())
    too_slow = ImageError(f"{url[:100]} took more than {deadline:.0f} s to download: try another address.")
    too_big = ImageError(f"{url[:100]} is larger than {max_bytes / 2**20:.0f} MB: too big for a photo here.")
    with _Watchdog(deadline) as watchdog:
        opener = urllib.request.build_opener(_WatchedHTTP(watchdog), _WatchedHTTPS(watchdog, context=context))
        try:
            with opener.open(request, timeout=min(deadline, 15)) as response:
                if "text/html" in response.headers.get("Content-Type", ""):
                    raise ImageError(f"{url[:100]} is a web page, not an image: right-click the image "
                                     f"and copy the image's own address.")
                if int(response.headers.get("Content-Length") or 0) > max_bytes:
                    raise too_big
                data = bytearray()
                while chunk := response.read1(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise too_big
        except Exception:
            if watchdog.expired:  # the connection was cut: whatever failed, the reason is the time
                raise too_slow from None
            raise
        if watchdog.expired:  # cut mid-body: what arrived is incomplete
            raise too_slow
    return bytes(data)


class _Watchdog:
    """One deadline for a whole request: when it passes, every connection the request opened is shut down.

    A socket timeout only limits each read, so a server that sends its status line,
    headers or body a byte at a time would never time out. Shutting the connection down
    ends whichever read is waiting; :attr:`expired` then says why.
    """

    def __init__(self, seconds: float):
        self.sockets, self.expired, self.lock = [], False, threading.Lock()
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc_info):
        self.timer.cancel()

    def watch(self, sock):
        """Called with each new connection's socket (redirects open more than one)."""
        with self.lock:
            self.sockets.append(sock)
        if self.expired:
            self._expire()
        return sock

    def _expire(self):
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _watched(connection_class, watchdog: _Watchdog):
    """``connection_class`` (http.client's) whose sockets ``watchdog`` watches from the moment they connect."""

    class Watched(connection_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            connect = self._create_connection  # socket.create_connection: before any TLS handshake
            self._create_connection = lambda *a, **k: watchdog.watch(connect(*a, **k))

    return Watched


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog):
        super().__init__()
        self.watchdog = watchdog

    def http_open(self, request):
        return self.do_open(_watched(http.client.HTTPConnection, self.watchdog), request)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog, context):
        super().__init__(context=context)
        self.watchdog = watchdog

    def https_open(self, request):
        return self.do_open(_watched(http.client.HTTPSConnection, self.watchdog), request, context=self._context)


# --- folder-per-class datasets -------------------------------------------------------------

@dataclass
class ImageFolder:
    """Photos found by :func:`load_image_folder`."""

    root: Path
    class_names: list[str]  # sorted sub-folder names
    paths: list[Path]  # labelled photos
    labels: np.ndarray  # index into class_names, one per path
    unlabelled: list[Path] = field(default_factory=list)  # loose photos in the top folder
    duplicates: list[list[Path]] = field(default_factory=list)  # groups of files with the same content
    near_duplicates: list[list[Path]] = field(default_factory=list)  # groups of photos that look the same

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}: {int((self.labels == i).sum())}" for i, n in enumerate(self.class_names))
        return f"ImageFolder({self.root}: {counts}; unlabelled: {len(self.unlabelled)})"


def load_image_folder(root: str | Path, min_classes: int = 2) -> ImageFolder:
    """Find labelled photos in ``root/<class name>/**`` and unlabelled ones in ``root/*``.

    A class folder's photos may sit in sub-folders of it, as with
    ``keras.utils.image_dataset_from_directory``. Only names and contents are
    checked here (decoding happens when the photos are used), but a non-image file,
    a broken link, an empty class folder, too few classes or one photo under two
    labels fail right away with a message that says how to fix the folder.
    Non-photo files at the top (a README) are skipped with a warning, and so are
    copies of a photo (same content) and near copies (a re-saved or resized copy: see
    :func:`near_duplicate_groups`) with a warning, since copies make leave-one-out
    accuracy look better than it is.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"{root}: no such folder. Give the folder that holds one sub-folder per class.")
    class_dirs = [p for p in _listing(root) if p.is_dir() and not is_junk(p)]
    if len(class_dirs) < min_classes:
        raise ImageError(
            f"{root}: found {len(class_dirs)} class folder(s) {[p.name for p in class_dirs]}; "
            f"a classifier needs at least {min_classes}. Make one sub-folder per class, "
            f"named after the class, and put its photos inside."
        )
    _check_distinct_folders(class_dirs)
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        photos = image_files(class_dir, recursive=True)
        if not photos:
            raise ImageError(
                f"{class_dir}: this class folder has no photos. Add some (10 or more work well) "
                f"or remove the folder."
            )
        paths += photos
        labels += [label] * len(photos)
    folder = ImageFolder(root, [p.name for p in class_dirs], paths, np.array(labels),
                         image_files(root, skip_non_images=True))
    folder.duplicates = _check_duplicates(folder)
    folder.near_duplicates = _check_near_duplicates(folder)
    return folder


def _check_distinct_folders(class_dirs: list[Path]) -> None:
    """A class folder that is a link to another class folder would make its photos two classes."""
    seen = {}
    for class_dir in class_dirs:
        real = class_dir.resolve()
        if real in seen:
            raise ImageError(
                f"{class_dir} and {seen[real]} are the same folder (one is a link to the other): its photos "
                f"would be two classes. Remove the link."
            )
        seen[real] = class_dir


def _check_duplicates(folder: ImageFolder) -> list[list[Path]]:
    """Groups of identical photos: an error if one photo has two labels, else a warning."""
    label_of = dict(zip(folder.paths, folder.labels.tolist()))
    groups = duplicate_groups(folder.paths + folder.unlabelled)
    for group in groups:
        one_per_label = {label_of[p]: p for p in reversed(group) if p in label_of}
        if len(one_per_label) > 1:
            first, second = sorted(one_per_label.values())[:2]
            raise ImageError(f"{first} and {second} are the same photo under two labels. "
                             f"Keep it in one class folder only.")
    if groups:
        examples = "; ".join(" = ".join(str(p.relative_to(folder.root)) for p in g) for g in groups[:3])
        warnings.warn(
            f"{folder.root}: {len(groups)} photo(s) appear more than once (same content): {examples}"
            f"{'; ...' if len(groups) > 3 else ''}. Copies make leave-one-out accuracy look better than it "
            f"is (helpers.svm_classifier holds copies out together); delete them if they are accidental.",
            stacklevel=3,
        )
    return groups


def _check_near_duplicates(folder: ImageFolder) -> list[list[Path]]:
    """Groups of photos that look the same but are not the same file's content: a warning naming them."""
    exact = {path: i for i, group in enumerate(folder.duplicates) for path in group}
    groups = [group for group in near_duplicate_groups(folder.paths + folder.unlabelled)
              if len({exact.get(path, path) for path in group}) > 1]  # not merely exact copies (already reported)
    if groups:
        examples = "; ".join(" ~ ".join(str(p.relative_to(folder.root)) for p in g) for g in groups[:3])
        warnings.warn(
            f"{folder.root}: {len(groups)} group(s) of photos look the same (re-saved, resized or recompressed "
            f"copies?): {examples}{'; ...' if len(groups) > 3 else ''}. Near copies make leave-one-out accuracy "
            f"look better than it is (helpers.svm_classifier holds photos with nearly the same features out "
            f"together); delete them if they are accidental.",
            stacklevel=3,
        )
    return groups


def near_duplicate_groups(paths) -> list[list[Path]]:
    """Groups of photos whose :func:`difference_hash` differ in at most :data:`NEAR_DUPLICATE_BITS` bits.

    A photo saved again as JPEG, resized or recompressed has other bytes (a new
    :func:`content_hash`) but the same picture. Photos that cannot be decoded are left
    out here: they fail, named, when they are used.
    """
    paths = [Path(p) for p in paths]
    hashes = [difference_hash(p) for p in paths]
    readable = [i for i, h in enumerate(hashes) if h is not None]
    bits = np.array([hashes[i] for i in readable]).reshape(len(readable), -1)
    close = (bits[:, None, :] != bits[None, :, :]).sum(axis=2) <= NEAR_DUPLICATE_BITS
    members = defaultdict(list)
    for index, group in zip(readable, linked_groups(close)):
        members[group].append(paths[index])
    return [group for group in members.values() if len(group) > 1]


def linked_groups(close: np.ndarray) -> np.ndarray:
    """A group number per item, from a symmetric (n, n) boolean matrix of which items are close:
    items linked by a chain of close pairs share one (the smallest index among them)."""
    groups = np.arange(len(close))  # each item its own group; then each takes its close items' smallest
    while not np.array_equal(groups, merged := np.array([groups[row].min() for row in close], dtype=int)):
        groups = merged  # until nothing changes
    return groups


def difference_hash(path: str | Path) -> np.ndarray | None:
    """64 bits of a photo that survive re-saving and resizing: is each pixel of a 9x8 grey thumbnail
    brighter than its left neighbour? None if the photo cannot be decoded."""
    try:
        thumbnail = open_rgb(path, max_side=32).convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    except ImageError:
        return None
    pixels = np.asarray(thumbnail, dtype=np.int16)
    return (pixels[:, 1:] > pixels[:, :-1]).reshape(-1)


def duplicate_groups(paths) -> list[list[Path]]:
    """Groups of files with the same content (only files of equal size are hashed)."""
    by_size = defaultdict(list)
    for path in paths:
        by_size[Path(path).stat().st_size].append(Path(path))
    by_content = defaultdict(list)
    for same_size in (group for group in by_size.values() if len(group) > 1):
        for path in same_size:
            by_content[content_hash(path)].append(path)
    return [group for group in by_content.values() if len(group) > 1]


def image_files(folder: str | Path, skip_non_images: bool = False, recursive: bool = False) -> list[Path]:
    """Sorted photo files in ``folder`` (and its sub-folders with ``recursive``); junk files are always skipped.

    Any other file -- not a photo, or a broken or looping link -- is an error naming it (a
    training folder should hold photos only), or, with ``skip_non_images`` (a folder of new
    photos to classify may hold a stray README), is skipped with a warning naming it.
    """
    photos, others, suffixes = [], [], photo_suffixes()
    for path in _entries(Path(folder), recursive, visited=frozenset()):
        (photos if path.suffix.lower() in suffixes and path.is_file() else others).append(path)
    for path in others:
        what = "a broken or looping link" if path.is_symlink() and not path.exists() else \
            f"not an image file (suffix {path.suffix or 'none'!r})"
        if not skip_non_images:
            raise ImageError(f"{path}: {what}. Move it out of {folder}: every file in a class folder is used as a photo.")
    if others and skip_non_images:
        warnings.warn(f"{folder}: skipped {len(others)} file(s) that are not photos: "
                      f"{', '.join(p.name for p in others[:5])}{', ...' if len(others) > 5 else ''}.", stacklevel=2)
    return photos


def _entries(folder: Path, recursive: bool, visited: frozenset) -> list[Path]:
    """Every non-junk file (or broken link) in ``folder``, sorted, following linked sub-folders but not loops."""
    real = folder.resolve()
    if real in visited:
        raise ImageError(f"{folder}: a link to a folder that contains it (a loop). Remove the link.")
    entries = []
    for path in _listing(folder):
        if is_junk(path):
            continue
        if path.is_dir():
            entries += _entries(path, recursive, visited | {real}) if recursive else []
        else:
            entries.append(path)
    return entries


def _listing(folder: Path) -> list[Path]:
    """The sorted contents of ``folder``; a folder that cannot be read is an :class:`ImageError`."""
    try:
        return sorted(folder.iterdir())
    except OSError as error:
        raise ImageError(f"{folder}: cannot list this folder ({error.strerror}). Check the path.") from None
