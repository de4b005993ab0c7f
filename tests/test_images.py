"""helpers.images: every kind of photo loads as RGB uint8; every bad input names the file."""

import numpy as np
import pytest
from PIL import Image

from helpers import images


def save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def gradient(width=40, height=30):
    """An RGB test picture whose corners differ, so rotations and crops are visible."""
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    red = np.broadcast_to(x, (height, width))
    green = np.broadcast_to(y[:, None], (height, width))
    return Image.fromarray(np.dstack([red, green, np.full((height, width), 128, np.uint8)]))


# --- every image mode becomes RGB uint8 -------------------------------------------------

@pytest.mark.parametrize(
    "mode, suffix",
    [("RGB", ".jpg"), ("L", ".png"), ("RGBA", ".png"), ("P", ".gif"), ("CMYK", ".jpg"),
     ("I;16", ".png"), ("LA", ".png"), ("1", ".bmp"), ("RGB", ".bmp"), ("RGB", ".webp")],
)
def test_every_mode_loads_as_rgb_uint8(tmp_path, mode, suffix):
    path = save(gradient().convert(mode) if mode != "I;16" else Image.fromarray(
        (np.arange(1200, dtype=np.uint16).reshape(30, 40) * 50)), tmp_path / f"photo{suffix}")
    array = images.load_image(path)
    assert array.dtype == np.uint8 and array.shape == (30, 40, 3)


def test_16_bit_grayscale_uses_the_full_range(tmp_path):
    values = np.linspace(1000, 3000, 1200).reshape(30, 40).astype(np.uint16)  # a dim 16-bit scan
    array = images.load_image(save(Image.fromarray(values), tmp_path / "scan.png"))
    assert array.min() == 0 and array.max() == 255
    assert (array[..., 0] == array[..., 1]).all()  # still gray


def test_transparency_is_laid_on_white(tmp_path):
    clear = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert (images.load_image(save(clear, tmp_path / "clear.png")) == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = save(gradient(40, 30), tmp_path / "phone.jpg", exif=exif)
    assert images.load_image(path).shape == (40, 30, 3)  # stands upright: height and width swapped


def test_tiny_and_huge_images(tmp_path):
    tiny = images.load_for_model(save(Image.new("RGB", (1, 1), "red"), tmp_path / "tiny.png"), 224)
    assert tiny.shape == (224, 224, 3) and (tiny[..., 0] > 250).all()
    huge = save(gradient(4000, 3000), tmp_path / "huge.jpg", quality=80)
    assert images.load_for_model(huge, 224).shape == (224, 224, 3)
    # JPEG draft mode decodes at reduced scale but never below the size we need
    assert min(images.load_image(huge, max_side=224).shape[:2]) >= 224


def test_crop_middle_square_keeps_the_centre():
    image = np.arange(4 * 6).reshape(4, 6)
    np.testing.assert_array_equal(images.crop_middle_square(image), image[:, 1:5])
    np.testing.assert_array_equal(images.crop_middle_square(image.T), image.T[1:5, :])


def test_load_batch_shapes(tmp_path):
    paths = [save(gradient(40 + i, 30), tmp_path / f"{i}.png") for i in range(3)]
    batch = images.load_batch(paths, 32)
    assert batch.shape == (3, 32, 32, 3) and batch.dtype == np.uint8


# --- bad files: a clear error that names the file -------------------------------------

def test_truncated_jpeg(tmp_path):
    good = save(gradient(400, 300), tmp_path / "good.jpg")
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(images.ImageError, match=r"truncated\.jpg.*damaged.*(download|copy) it again"):
        images.load_image(bad)


def test_corrupt_data_after_a_valid_header(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    good = save(Image.fromarray(noise), tmp_path / "good.png").read_bytes()
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(good[:100] + bytes(len(good) - 100))
    with pytest.raises(images.ImageError, match=r"corrupt\.png"):
        images.load_image(bad)


@pytest.mark.parametrize("name, content, message", [
    ("empty.jpg", b"", "is empty"),
    ("notes.jpg", b"these are my notes, not a photo", "is not an image"),
])
def test_not_an_image(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(images.ImageError, match=rf"{name}: {message}.*remove it"):
        images.load_image(tmp_path / name)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(images.ImageError, match="nothing.jpg: no such file"):
        images.load_image(tmp_path / "nothing.jpg")
    with pytest.raises(images.ImageError, match="is a folder"):
        images.load_image(tmp_path)


def test_unreadable_file(tmp_path, monkeypatch):
    path = save(gradient(), tmp_path / "locked.png")

    def permission_denied(*args, **kwargs):  # chmod 000 does not stop root, who runs CI
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images.Image, "open", permission_denied)
    with pytest.raises(images.ImageError, match="locked.png: permission denied"):
        images.load_image(path)


# --- folder-per-class datasets ----------------------------------------------------------

def make_folder(root, classes=None, loose=("test1.jpg",)):
    """Class folders and loose photos; every photo is a different picture (copies are tested on purpose)."""
    classes = {"Classic": 2, "Modern": 3} if classes is None else classes
    widths = iter(range(40, 1000))
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            save(gradient(next(widths)), root / name / f"{name.lower()}-{i}.jpg")
    for name in loose:
        save(gradient(next(widths)), root / name)
    return root


def test_folder_names_are_labels_and_loose_files_are_unlabelled(tmp_path):
    folder = images.load_image_folder(make_folder(tmp_path))
    assert folder.class_names == ["Classic", "Modern"]
    assert folder.labels.tolist() == [0, 0, 1, 1, 1]
    assert [p.name for p in folder.unlabelled] == ["test1.jpg"]
    assert "Classic: 2, Modern: 3" in repr(folder)


def test_junk_files_are_skipped(tmp_path):
    root = make_folder(tmp_path)
    for junk in [".DS_Store", "._classic-0.jpg", "Thumbs.db", "desktop.ini"]:
        (root / "Classic" / junk).write_bytes(b"junk")
    (root / ".ipynb_checkpoints").mkdir()
    folder = images.load_image_folder(root)
    assert len(folder.paths) == 5 and folder.class_names == ["Classic", "Modern"]


def test_non_image_file_in_a_class_folder(tmp_path):
    root = make_folder(tmp_path)
    (root / "Modern" / "README.txt").write_text("where I found these photos")
    with pytest.raises(images.ImageError, match=r"Modern/README\.txt: not an image file.*Move it out"):
        images.load_image_folder(root)


def test_image_files_can_skip_non_images(tmp_path):
    root = make_folder(tmp_path, {}, loose=("b.jpg", "a.png"))
    (root / "notes.txt").write_text("a stray file")
    (root / ".DS_Store").write_bytes(b"junk")
    assert images.image_files(root, skip_non_images=True) == [root / "a.png", root / "b.jpg"]
    with pytest.raises(images.ImageError, match=r"notes\.txt: not an image file"):
        images.image_files(root)


def test_empty_class_folder(tmp_path):
    root = make_folder(tmp_path)
    (root / "Vintage").mkdir()
    with pytest.raises(images.ImageError, match=r"Vintage: this class folder has no photos"):
        images.load_image_folder(root)


def test_single_class_and_missing_folder(tmp_path):
    with pytest.raises(images.ImageError, match=r"found 1 class folder\(s\) \['Classic'\].*at least 2"):
        images.load_image_folder(make_folder(tmp_path, {"Classic": 3}))
    with pytest.raises(images.ImageError, match="no such folder"):
        images.load_image_folder(tmp_path / "nope")


def test_load_for_model_is_crop_then_resize(tmp_path):
    """The fast one-pass path gives the pixels of the talk's crop-then-resize.

    Only the outermost pixels may differ: there Pillow's filter also reads the pixels just
    outside the crop box, where a cropped array has none.
    """
    noise = np.random.default_rng(2).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    path = save(Image.fromarray(noise), tmp_path / "wide.png")
    slow = images.resize(images.crop_middle_square(images.load_image(path)), 64).astype(int)
    difference = np.abs(images.load_for_model(path, 64).astype(int) - slow)
    assert difference[1:-1, 1:-1].max() <= 1 and difference.mean() < 0.5
    squashed = images.load_for_model(path, 64, crop=False)
    assert squashed.shape == (64, 64, 3) and not np.array_equal(squashed, slow)
