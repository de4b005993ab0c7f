"""Photos from outside in a notebook: upload buttons on Colab (ipywidgets 7) and in JupyterLab (ipywidgets 8),
zips of a folder of photos, and a photo's web address (:func:`download_image`).

>>> unpacked = unpack_photo_zip("pianos.zip")      # a new folder beside the zip; limits checked
>>> print(unpacked.summary())                      # how many files, and what was left out and why
>>> unpacked.folder                                # the photos' folder

>>> upload = widgets.FileUpload(accept="image/*")
>>> result = widgets.Output()
>>> @show_errors_in(result)
... def on_upload(change):
...     files = uploaded_files(change.new)
...     clear(upload)  # choosing the same file again is then a change too
...     for name, data in files:
...         ...
>>> upload.observe(on_upload, names="value")
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import socket
import stat
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import requests

from .images import ImageError, load_image_bytes

__all__ = ["MAX_FILES", "MAX_RATIO", "MAX_UNPACKED_BYTES", "Unpacked", "clear", "download_image", "show_errors_in",
           "unpack_photo_zip", "uploaded_files"]

# A zip of photos for the course: a few hundred photos of a few MB each. Photos barely compress
# (JPEG, PNG are compressed already), so a high ratio means a zip bomb (1.5 MB -> 1 GiB was one).
MAX_UNPACKED_BYTES = 1 * 2**30
MAX_FILES = 5000
MAX_RATIO = 100  # unpacked bytes per zipped byte, for the whole zip
MAX_NAME_BYTES = 255  # the longest file or folder name most file systems take
MACOS_EXTRAS = re.compile(r"^(__MACOSX|\.DS_Store|\._.*)$")  # what macOS's "Compress" adds


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """``(file name, content)`` of every file in a ``FileUpload.value``, for ipywidgets 7 and 8.

    ipywidgets 8 (JupyterLab, VS Code): a tuple of dicts with ``"name"`` and a memoryview
    ``"content"``. ipywidgets 7 (Colab ships 7.7): a dict keyed by file name, whose values
    hold ``"metadata"`` and ``"content"`` (bytes). Code written for one layout fails on the other,
    and silently: an exception inside a widget callback goes to the kernel's log, not to the
    notebook (hence :func:`show_errors_in`). Notebook 2's upload cell relies on this function.
    """
    if isinstance(value, dict):  # ipywidgets 7
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]  # ipywidgets 8


def clear(upload) -> None:
    """Empty a ``FileUpload`` whose files were read, so that choosing the same file again is handled again.

    The widget calls its observers only when its value *changes*: a learner who chooses the same
    photo again (after an error, say) would see nothing happen. Emptying it makes the next choice
    a change. The emptying is a change too, with no files in it. ipywidgets 8 holds a tuple, 7 a
    dict (read-only there, hence ``set_trait``).
    """
    upload.set_trait("value", {} if isinstance(upload.value, dict) else ())


def show_errors_in(output):
    """Decorate a widget callback so whatever it prints, and any error it raises, appear in ``output``.

    Jupyter sends an exception raised inside a widget callback to the kernel's log, not to
    the notebook: the learner clicks and sees nothing. Here a ``ValueError`` (the course's
    "this is what went wrong" errors) is shown as its message, anything else with its type.
    """

    def decorate(callback):
        @functools.wraps(callback)
        def run_and_report(*args, **kwargs):
            with output:
                try:
                    return callback(*args, **kwargs)
                except ValueError as error:
                    print(error)
                except Exception as error:  # noqa: BLE001 -- shown to the learner instead of lost
                    print(f"Something went wrong: {type(error).__name__}: {error}")

        return run_and_report

    return decorate


class Unpacked(NamedTuple):
    folder: Path  # the photos' folder (one sub-folder per class): inside the zip's own folder if it had one
    files: int  # files unpacked
    skipped: list[str]  # what was left out, and why (one line each)

    def summary(self) -> str:
        """What was unpacked, and each thing left out with why: for the learner to read."""
        lines = [f"{self.files} file(s) unpacked into {self.folder}"] + [f"  left out: {s}" for s in self.skipped]
        return "\n".join(lines)


def unpack_photo_zip(zip_path: str | Path, into: str | Path = ".") -> Unpacked:
    """Unpack a zip of a photo folder into a new folder in ``into``, safely, and say what was left out.

    Zips made on macOS (``__MACOSX/``, ``._*`` and ``.DS_Store`` files: left out) and on Windows
    (``\\`` between folder names) both work. A member that would land outside the folder
    (``..``, an absolute path), a link, a name too long for the disk, or an encrypted file is
    left out and listed in ``skipped``. A zip over the limits (``MAX_UNPACKED_BYTES``, ``MAX_FILES``,
    ``MAX_RATIO``: a zip bomb) is refused with a ValueError, and nothing is left on disk.
    """
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{zip_path.name}: not a zip file that can be read ({error}). Zip the folder again.") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        _check_limits(zip_path, members)
        folder = Path(tempfile.mkdtemp(prefix="my_photos_", dir=into))  # new: nothing is overwritten
        try:
            files, skipped = _unpack(archive, members, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # nothing half-unpacked is left behind
            raise
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():  # the zip held the folder itself: go inside it
        folder = entries[0]
    return Unpacked(folder, files, skipped)


def _check_limits(zip_path: Path, members) -> None:
    """Refuse a zip whose declared sizes are over the limits (the true sizes are counted while unpacking)."""
    total = sum(m.file_size for m in members)
    limits = [(len(members) > MAX_FILES, f"{len(members)} files (at most {MAX_FILES})"),
              (total > MAX_UNPACKED_BYTES, f"{total / 2**20:.0f} MiB unpacked (at most {MAX_UNPACKED_BYTES // 2**20})"),
              (total > MAX_RATIO * max(zip_path.stat().st_size, 1),
               f"{total / 2**20:.0f} MiB unpacked from {zip_path.stat().st_size / 2**20:.1f} MiB zipped: "
               f"more than {MAX_RATIO} times its size, which photos never are (a zip bomb?)")]
    for over, what in limits:
        if over:
            raise ValueError(f"{zip_path.name}: {what}. Nothing was unpacked: zip only the photo folder.")


def _unpack(archive: zipfile.ZipFile, members, folder: Path) -> tuple[int, list[str]]:
    files, skipped, macos, budget = 0, [], 0, MAX_UNPACKED_BYTES
    for member in members:
        parts = [p for p in member.filename.replace("\\", "/").split("/") if p not in ("", ".")]
        if any(MACOS_EXTRAS.match(p) for p in parts):
            macos += 1
            continue
        reason = _unsafe(member, parts)
        if reason:
            skipped.append(f"{member.filename}: {reason}")
            continue
        target = folder.joinpath(*parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "xb") as copy:  # x: two names for one file
                while chunk := source.read(2**20):
                    budget -= len(chunk)
                    if budget < 0:  # the sizes the zip declared were lies
                        raise ValueError(f"{Path(archive.filename).name}: more than {MAX_UNPACKED_BYTES // 2**20} "
                                         f"MiB unpacked. Nothing was kept: zip only the photo folder.")
                    copy.write(chunk)
            files += 1
        except (OSError, RuntimeError, NotImplementedError, zipfile.BadZipFile) as error:  # encrypted, odd method...
            target.unlink(missing_ok=True)
            skipped.append(f"{member.filename}: could not be unpacked ({getattr(error, 'strerror', None) or error})")
    if macos:
        skipped.append(f"{macos} macOS extra file(s) (__MACOSX/, ._*, .DS_Store): not photos")
    return files, skipped


def _unsafe(member: zipfile.ZipInfo, parts: list[str]) -> str | None:
    """Why ``member`` must not be unpacked (None if it may)."""
    if not parts or ".." in parts or member.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", parts[0]):
        return "its path leads outside the folder"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "a link, not a file"
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in parts):
        return f"a name longer than {MAX_NAME_BYTES} bytes, more than the disk takes"
    return None


# --- photos from the web -------------------------------------------------------------------

def download_image(url: str, max_bytes: int = 20 * 2**20, deadline: float = 30.0,
                   max_side: int | None = 1024) -> np.ndarray:
    """A photo from the web as an RGB array, for the notebooks' "classify this URL" box.

    At most ``max_bytes`` are read, within ``deadline`` seconds in all, from connecting to
    the last byte (a server that trickles its headers or body cannot hang the notebook),
    and decoded as :func:`helpers.images.load_image_bytes` does, with ``max_side`` (JPEGs
    decode at a reduced scale). Nothing is written to disk.
    Every failure is an :class:`~helpers.images.ImageError` with one readable line.
    """
    url = (url or "").strip()
    if not url:
        raise ImageError("Paste the address of an image into the URL box first.")
    if not url.lower().startswith(("http://", "https://")):
        raise ImageError(f"{url[:100]!r} is not a web address: it should start with http:// or https://")
    try:
        data = _read_url(url, max_bytes, deadline)
    except ImageError:
        raise
    except Exception as error:  # unreachable host, HTTP error, timeout, malformed URL...
        raise ImageError(f"Could not download {url[:100]}: {str(error) or type(error).__name__}") from None
    return load_image_bytes(data, url[:100], max_side)


def _read_url(url: str, max_bytes: int, deadline: float) -> bytes:
    too_slow = ImageError(f"{url[:100]} took more than {deadline:.0f} s to download: try another address.")
    too_big = ImageError(f"{url[:100]} is larger than {max_bytes / 2**20:.0f} MB: too big for a photo here.")
    # identity: no compressed body, which could unpack to far more than max_bytes within one chunk
    headers = {"User-Agent": "going-deeper-course", "Accept-Encoding": "identity"}
    with requests.Session() as session:  # closing it ends the deadline's timer
        session.mount("http://", watchdog := _Deadline(deadline))
        session.mount("https://", watchdog)
        try:
            with session.get(url, headers=headers, stream=True, timeout=min(deadline, 15)) as response:
                response.raise_for_status()
                if "text/html" in response.headers.get("Content-Type", ""):
                    raise ImageError(f"{url[:100]} is a web page, not an image: right-click the image "
                                     f"and copy the image's own address.")
                if int(response.headers.get("Content-Length") or 0) > max_bytes:
                    raise too_big
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise too_big
        except Exception:
            if watchdog.expired.is_set():  # the connection was cut: whatever failed, the reason is the time
                raise too_slow from None
            raise
        if watchdog.expired.is_set():  # cut mid-body: what arrived is incomplete
            raise too_slow
    return bytes(data)


class _Deadline(requests.adapters.HTTPAdapter):
    """requests' adapter with one deadline for a whole request, when it shuts down every connection it opened:
    requests' timeouts limit each read, so a server that trickles its status line, headers or body never times out."""

    def __init__(self, seconds: float):
        self.sockets, self.expired = [], threading.Event()
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True
        self.timer.start()
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        watch = self.watch

        def watched(pool):  # urllib3's pool class for a scheme, whose connections' sockets are watched
            connection = type("Watched" + pool.ConnectionCls.__name__, (pool.ConnectionCls,),
                              {"_new_conn": lambda self: watch(pool.ConnectionCls._new_conn(self))})
            return type("Watched" + pool.__name__, (pool,), {"ConnectionCls": connection})

        self.poolmanager.pool_classes_by_scheme = {
            scheme: watched(pool) for scheme, pool in self.poolmanager.pool_classes_by_scheme.items()}

    def watch(self, sock):
        """Called with each new connection's socket (redirects open more than one), before any TLS."""
        self.sockets.append(sock)
        if self.expired.is_set():  # connected just after the deadline
            self.expire()
        return sock

    def expire(self):
        self.expired.set()
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.timer.cancel()
        super().close()
