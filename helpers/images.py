"""Photos in, model-ready arrays out: load any image as RGB, crop the middle square, resize.

Also a folder-per-class loader (:func:`load_image_folder`): sub-folder names are the
labels, loose image files in the top folder are unlabelled test photos, as in the talk.

Junk-file policy: hidden files (names starting with ``.``, such as ``.DS_Store``
or macOS ``._photo.jpg`` shadows) and ``Thumbs.db`` / ``desktop.ini`` are skipped
silently. Any other file must be an image Pillow can read; if it is not, you get an
:class:`ImageError` naming the file, rather than a silently smaller dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IGNORED_NAMES = {"thumbs.db", "desktop.ini"}


class ImageError(ValueError):
    """A file could not be used as an image; the message names it and says what to do."""


def is_junk(path: Path) -> bool:
    """Files the loaders skip on purpose: hidden files and OS thumbnails/settings."""
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def load_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """Load ``path`` as an RGB ``uint8`` array of shape (height, width, 3).

    EXIF orientation is applied (phone photos stand upright); grayscale, palette,
    CMYK, 16-bit and float images are converted; transparency is laid on white.
    ``max_side`` lets JPEG decoding skip detail we would throw away (much faster
    on big photos); the result is at least that large on its shorter side.
    """
    return np.asarray(open_rgb(path, max_side))


def open_rgb(path: str | Path, max_side: int | None = None) -> Image.Image:
    """:func:`load_image` as a Pillow image; every failure becomes an :class:`ImageError`."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            if max_side:
                image.draft("RGB", (max_side, max_side))  # JPEG only: decode at reduced scale
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return _to_rgb(image)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file. Check the path.") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image file.") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied. Make the file readable (chmod +r).") from None
    except UnidentifiedImageError:
        size = path.stat().st_size
        what = "is empty (0 bytes)" if size == 0 else "is not an image Pillow can read"
        raise ImageError(
            f"{path}: {what}. Replace it with a JPEG/PNG/BMP photo, or remove it from the folder."
        ) from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt image data
        raise ImageError(
            f"{path}: the image data is damaged ({error}). The file may be truncated: "
            f"download or copy it again, or remove it from the folder."
        ) from None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / 32-bit grayscale: stretch the actual value range to 0..255.
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        image = Image.fromarray(scaled.round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image)
    return image if image.mode == "RGB" else image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB...


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
    image = open_rgb(path, max_side=size)
    box = middle_square_box(*image.size) if crop else None
    # Pillow crops and resizes in one pass, three times faster than crop_middle_square +
    # resize through NumPy, with the same pixels except the outermost row and column.
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=box))


def load_batch(paths, size: int, crop: bool = True) -> np.ndarray:
    """Stack :func:`load_for_model` of several photos into a (n, size, size, 3) uint8 array."""
    return np.stack([load_for_model(p, size, crop) for p in paths])


@dataclass
class ImageFolder:
    """Photos found by :func:`load_image_folder`."""

    root: Path
    class_names: list[str]  # sorted sub-folder names
    paths: list[Path]  # labelled photos
    labels: np.ndarray  # index into class_names, one per path
    unlabelled: list[Path] = field(default_factory=list)  # loose photos in the top folder

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}: {int((self.labels == i).sum())}" for i, n in enumerate(self.class_names))
        return f"ImageFolder({self.root}: {counts}; unlabelled: {len(self.unlabelled)})"


def load_image_folder(root: str | Path, min_classes: int = 2) -> ImageFolder:
    """Find labelled photos in ``root/<class name>/*`` and unlabelled ones in ``root/*``.

    Only file names are checked here (decoding happens when the photos are used),
    but a non-image file, an empty class folder or too few classes fail right away
    with a message that says how to fix the folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"{root}: no such folder. Give the folder that holds one sub-folder per class.")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not is_junk(p))
    if len(class_dirs) < min_classes:
        raise ImageError(
            f"{root}: found {len(class_dirs)} class folder(s) {[p.name for p in class_dirs]}; "
            f"a classifier needs at least {min_classes}. Make one sub-folder per class, "
            f"named after the class, and put its photos inside."
        )
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        photos = image_files(class_dir)
        if not photos:
            raise ImageError(
                f"{class_dir}: this class folder has no photos. Add some (10 or more work well) "
                f"or remove the folder."
            )
        paths += photos
        labels += [label] * len(photos)
    return ImageFolder(root, [p.name for p in class_dirs], paths, np.array(labels), image_files(root))


def image_files(folder: str | Path, skip_non_images: bool = False) -> list[Path]:
    """Sorted image files directly in ``folder``; junk files are always skipped.

    Any other non-image file is an error naming it (a training folder should hold
    photos only), or is skipped with ``skip_non_images`` (a folder of new photos to
    classify may hold a stray README).
    """
    folder = Path(folder)
    image_suffixes = set(Image.registered_extensions())
    files = sorted(p for p in folder.iterdir() if p.is_file() and not is_junk(p))
    for path in files:
        if path.suffix.lower() not in image_suffixes and not skip_non_images:
            raise ImageError(
                f"{path}: not an image file (suffix {path.suffix or 'none'!r}). Move it out of "
                f"{folder}: every file in an image folder is used as a photo."
            )
    return [p for p in files if p.suffix.lower() in image_suffixes]
