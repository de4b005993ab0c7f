"""helpers.images: every kind of photo loads as RGB uint8; every bad input names the file."""

import itertools
import shutil
import struct
import subprocess
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from helpers import datasets, images


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

    monkeypatch.setattr(images.Path, "open", permission_denied)
    with pytest.raises(images.ImageError, match="locked.png: permission denied"):
        images.load_image(path)


# --- folder-per-class datasets ----------------------------------------------------------

PICTURE_WIDTHS = itertools.count(40)  # a new width, so a new picture, for every photo made


def make_folder(root, classes=None, loose=("test1.jpg",)):
    """Class folders and loose photos; every photo is a different picture (copies are tested on purpose)."""
    classes = {"Classic": 2, "Modern": 3} if classes is None else classes
    widths = PICTURE_WIDTHS
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            save(picture(next(widths)), root / name / f"{name.lower()}-{i}.jpg")
    for name in loose:
        save(picture(next(widths)), root / name)
    return root


def picture(width: int) -> Image.Image:
    """A picture of its own for each width (random blocks): no two look alike, as different photos."""
    blocks = np.random.default_rng(width).integers(0, 256, (6, 8, 3), np.uint8)
    return Image.fromarray(blocks).resize((width, 30), Image.Resampling.NEAREST)


def test_folder_names_are_labels_and_loose_files_are_unlabelled(tmp_path):
    folder = datasets.load_image_folder(make_folder(tmp_path))
    assert folder.class_names == ["Classic", "Modern"]
    assert folder.labels.tolist() == [0, 0, 1, 1, 1]
    assert [p.name for p in folder.unlabelled] == ["test1.jpg"]
    assert "Classic: 2, Modern: 3" in repr(folder)


def test_junk_files_are_skipped(tmp_path):
    root = make_folder(tmp_path)
    for junk in [".DS_Store", "._classic-0.jpg", "Thumbs.db", "desktop.ini"]:
        (root / "Classic" / junk).write_bytes(b"junk")
    (root / ".ipynb_checkpoints").mkdir()
    folder = datasets.load_image_folder(root)
    assert len(folder.paths) == 5 and folder.class_names == ["Classic", "Modern"]


def test_non_image_file_in_a_class_folder(tmp_path):
    root = make_folder(tmp_path)
    (root / "Modern" / "README.txt").write_text("where I found these photos")
    with pytest.raises(images.ImageError, match=r"Modern/README\.txt: not an image file.*Move it out"):
        datasets.load_image_folder(root)


def test_image_files_can_skip_non_images(tmp_path):
    root = make_folder(tmp_path, {}, loose=("b.jpg", "a.png"))
    (root / "notes.txt").write_text("a stray file")
    (root / ".DS_Store").write_bytes(b"junk")
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) that are not photos: notes\.txt"):
        assert datasets.image_files(root, skip_non_images=True) == [root / "a.png", root / "b.jpg"]
    with pytest.raises(images.ImageError, match=r"notes\.txt: not an image file"):
        datasets.image_files(root)


def test_a_missing_or_unreadable_folder_of_photos(tmp_path, monkeypatch):
    with pytest.raises(images.ImageError, match=r"incoming: cannot list this folder \(No such file"):
        datasets.image_files(tmp_path / "incoming", skip_non_images=True)
    root = make_folder(tmp_path / "dataset")

    def permission_denied(self):  # chmod 000 does not stop root, who runs CI
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(root), "iterdir", permission_denied)
    with pytest.raises(images.ImageError, match=r"dataset: cannot list this folder \(Permission denied"):
        datasets.load_image_folder(root)


def test_empty_class_folder(tmp_path):
    root = make_folder(tmp_path)
    (root / "Vintage").mkdir()
    with pytest.raises(images.ImageError, match=r"Vintage: this class folder has no photos"):
        datasets.load_image_folder(root)


def test_single_class_and_missing_folder(tmp_path):
    with pytest.raises(images.ImageError, match=r"found 1 class folder\(s\) \['Classic'\].*at least 2"):
        datasets.load_image_folder(make_folder(tmp_path, {"Classic": 3}))
    with pytest.raises(images.ImageError, match="no such folder"):
        datasets.load_image_folder(tmp_path / "nope")


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


# --- hostile files: only photo decoders, capped pixels, every failure an ImageError ----------

POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n"


def png_header_only(path, width, height, bit_depth=8, color_type=0):
    """A PNG that declares width x height pixels but holds almost no data (decoding it is the bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))
    return path


def test_postscript_named_jpg_never_reaches_ghostscript(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    def ghostscript(*args, **kwargs):  # what Pillow would run for an EPS file
        raise subprocess.CalledProcessError(1, "gs")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    (tmp_path / "old-car.jpg").write_bytes(POSTSCRIPT)
    with pytest.raises(images.ImageError, match=r"old-car\.jpg: is not an image in a photo format \(JPEG"):
        images.load_image(tmp_path / "old-car.jpg")


def test_folders_list_photo_formats_only(tmp_path):
    assert {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".mpo"} <= images.photo_suffixes()
    assert not {".eps", ".ps", ".psd", ".pdf", ".ico", ".xbm"} & images.photo_suffixes()
    for name in ["drawing.eps", "drawing.ps", "layers.psd", "brochure.pdf"]:
        root = make_folder(tmp_path / name)
        (root / "Modern" / name).write_bytes(POSTSCRIPT)
        with pytest.raises(images.ImageError, match=rf"Modern/{name}: not an image file"):
            datasets.load_image_folder(root)


def test_any_decoder_failure_is_an_image_error(tmp_path, monkeypatch):
    path = save(gradient(), tmp_path / "photo.png")
    for failure in [RuntimeError("decoder crashed"), struct.error("unpack requires a buffer"), MemoryError()]:
        def broken_load(self, failure=failure):
            raise failure

        monkeypatch.setattr(ImageFile.ImageFile, "load", broken_load)
        with pytest.raises(images.ImageError, match=r"photo\.png: the image data is damaged"):
            images.load_image(path)


@pytest.mark.parametrize("width, height", [(8000, 6000), (20000, 20000)])  # 48 MP; 400 MP: Pillow's own limit
def test_decompression_bombs_are_refused_before_decoding(tmp_path, monkeypatch, width, height):
    bomb = png_header_only(tmp_path / "bomb.png", width, height, bit_depth=16)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded a bomb"))
    with pytest.raises(images.ImageError, match=rf"bomb\.png: .*{width * height}|bomb\.png: {width}x{height} pixels"):
        images.load_for_model(bomb, 224)


def test_big_photos_decode_reduced_on_every_path(tmp_path):
    """A big JPEG decodes at a reduced scale (draft), other formats are reduced right after decoding."""
    huge_jpeg = save(gradient(4800, 3600), tmp_path / "huge.jpg", quality=70)
    assert 224 <= min(images.load_image(huge_jpeg, max_side=224).shape[:2]) <= 3600 // 8  # JPEG's smallest scale
    big_png = save(gradient(3000, 2000), tmp_path / "big.png")
    assert 3 * 224 <= min(images.load_image(big_png, max_side=224).shape[:2]) < 6 * 224
    assert images.load_for_model(big_png, 224).shape == (224, 224, 3)
    # the notebooks' upload/URL path decodes bytes with the same cap
    assert 1024 <= min(images.load_image_bytes(huge_jpeg.read_bytes(), "upload.jpg", max_side=1024).shape[:2]) < 2048


def test_16_bit_conversion_works_in_float32(tmp_path):
    values = (np.arange(3_000_000, dtype=np.uint32) % 60000).astype(np.uint16).reshape(1500, 2000)
    path = save(Image.fromarray(values), tmp_path / "scan.png")
    tracemalloc.start()
    try:
        images.load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / values.size < 10  # bytes per pixel: float64 work took 25


@pytest.mark.parametrize("value, expected", [(65535, 255), (0, 0), (32896, 128)])
def test_uniform_16_bit_image_keeps_its_brightness(tmp_path, value, expected):
    path = save(Image.fromarray(np.full((30, 40), value, np.uint16)), tmp_path / "flat.png")
    assert (images.load_image(path) == expected).all()


def test_a_nan_or_infinite_pixel_does_not_blacken_a_float_image(tmp_path):
    values = np.tile(np.linspace(0.0, 1.0, 40, dtype=np.float32), (30, 1))
    values[0, 0], values[0, 1], values[0, 2] = np.nan, np.inf, -np.inf
    array = images.load_image(save(Image.fromarray(values, mode="F"), tmp_path / "float.tif"))[..., 0]
    assert array[1, 3] < array[1, 20] < array[1, -1] == 255  # the gradient survives
    assert (array[0, 0], array[0, 1], array[0, 2]) == (0, 255, 0)
    flat = np.full((30, 40), np.nan, np.float32)
    with pytest.raises(images.ImageError, match="no pixel has a finite value"):
        images.load_image(save(Image.fromarray(flat, mode="F"), tmp_path / "nan.tif"))


# --- folders as learners make them: sub-folders, links, READMEs, copies -----------------------

def test_photos_in_sub_folders_of_a_class_are_found(tmp_path):
    root = make_folder(tmp_path)
    (root / "Classic" / "2019" / "summer").mkdir(parents=True)
    save(picture(333), root / "Classic" / "2019" / "summer" / "deep.jpg")
    folder = datasets.load_image_folder(root)
    assert root / "Classic" / "2019" / "summer" / "deep.jpg" in folder.paths
    assert folder.labels.tolist() == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("link_to", ["nowhere.jpg", "loop.jpg"])  # dangling; pointing at itself
def test_broken_and_looping_links_are_named(tmp_path, link_to):
    root = make_folder(tmp_path)
    (root / "Classic" / "loop.jpg").symlink_to(root / "Classic" / link_to)
    with pytest.raises(images.ImageError, match=r"Classic/loop\.jpg: a broken or looping link"):
        datasets.load_image_folder(root)


def test_a_folder_link_that_loops_is_named(tmp_path):
    root = make_folder(tmp_path)
    (root / "Modern" / "again").symlink_to(root / "Modern")
    with pytest.raises(images.ImageError, match=r"Modern/again: a link to a folder that contains it"):
        datasets.load_image_folder(root)


def test_a_linked_class_folder_is_a_class_unless_it_repeats_another(tmp_path):
    root = make_folder(tmp_path / "dataset")
    elsewhere = make_folder(tmp_path / "elsewhere", {"Vintage": 2}, loose=())
    (root / "Vintage").symlink_to(elsewhere / "Vintage")
    assert datasets.load_image_folder(root).class_names == ["Classic", "Modern", "Vintage"]
    (root / "Old").symlink_to(root / "Classic")
    with pytest.raises(images.ImageError, match=r"Old and .*Classic are the same folder"):
        datasets.load_image_folder(root)


def test_a_readme_at_the_top_is_skipped_with_a_note(tmp_path):
    root = make_folder(tmp_path)
    (root / "README.md").write_text("# my car photos")
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) that are not photos: README\.md"):
        folder = datasets.load_image_folder(root)
    assert [p.name for p in folder.unlabelled] == ["test1.jpg"] and len(folder.paths) == 5


def test_copies_are_reported_and_a_photo_under_two_labels_is_an_error(tmp_path):
    root = make_folder(tmp_path)
    shutil.copy(root / "Classic" / "classic-0.jpg", root / "Classic" / "classic-0 (copy).jpg")
    with pytest.warns(UserWarning, match=r"1 photo\(s\) appear more than once.*classic-0 \(copy\)\.jpg"):
        folder = datasets.load_image_folder(root)
    assert folder.duplicates == [[root / "Classic" / "classic-0 (copy).jpg", root / "Classic" / "classic-0.jpg"]]
    (root / "Modern" / "same.jpg").symlink_to(root / "Classic" / "classic-1.jpg")
    with pytest.raises(images.ImageError, match=r"classic-1\.jpg and .*Modern/same\.jpg are the same photo under two labels"):
        datasets.load_image_folder(root)


def test_near_copies_are_reported_by_name(tmp_path):
    """A re-saved or resized copy has other bytes but the same picture: named in a warning, kept in near_duplicates."""
    root = make_folder(tmp_path)
    original = root / "Classic" / "classic-0.jpg"
    big = picture(400)
    big.save(original, quality=95)
    big.save(root / "Classic" / "classic-0 (re-saved).jpg", quality=60)
    big.resize((300, 22)).save(root / "Modern" / "small.png")
    with pytest.warns(UserWarning, match=r"1 group\(s\) of photos look the same.*classic-0 \(re-saved\)\.jpg ~ "
                                         r"Classic/classic-0\.jpg ~ Modern/small\.png"):
        folder = datasets.load_image_folder(root)
    assert folder.near_duplicates == [[root / "Classic" / "classic-0 (re-saved).jpg", original,
                                       root / "Modern" / "small.png"]]
    assert folder.duplicates == []


def test_different_photos_and_exact_copies_are_not_near_copies(tmp_path, recwarn):
    root = make_folder(tmp_path, {"Classic": 4, "Modern": 4})
    assert datasets.load_image_folder(root).near_duplicates == []
    shutil.copy(root / "Classic" / "classic-0.jpg", root / "Classic" / "copy.jpg")  # reported as a copy, once
    folder = datasets.load_image_folder(root)
    assert len(folder.duplicates) == 1 and folder.near_duplicates == []
    assert [str(w.message) for w in recwarn if "look the same" in str(w.message)] == []
