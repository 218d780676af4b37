import io
import os

import pytest
from PIL import Image

from cyclegan import sources
from tests.helpers import encode, random_pixels


def test_plain_jpeg_and_png_are_stored_unchanged():
    for fmt in ("JPEG", "PNG"):
        data = encode(random_pixels(16, 16), fmt)
        assert sources.validate_image(data) == (data, None)


def test_grayscale_jpeg_is_kept_as_is():
    data = encode(random_pixels(16, 16), "JPEG", "L")
    assert sources.validate_image(data) == (data, None)  # TF decodes it to RGB


def test_cmyk_jpeg_is_converted_to_rgb_png():
    stored, reason = sources.validate_image(encode(random_pixels(16, 16), "JPEG", "CMYK"))
    assert reason is None
    image = Image.open(io.BytesIO(stored))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (16, 16))


def test_exif_rotation_is_applied():
    image = Image.fromarray(random_pixels(10, 20))  # 20 wide, 10 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    stored, reason = sources.validate_image(buffer.getvalue())
    assert reason is None
    assert Image.open(io.BytesIO(stored)).size == (10, 20)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"this is not an image at all", "cannot decode image"),
        (encode(random_pixels(64, 64), "JPEG")[:300], "cannot decode image"),
    ],
)
def test_bad_files_get_a_reason(data, reason):
    stored, why = sources.validate_image(data)
    assert stored is None and reason in why


def test_decompression_bomb_is_rejected_from_the_header(monkeypatch):
    monkeypatch.setattr(sources, "MAX_PIXELS", 100)
    stored, why = sources.validate_image(encode(random_pixels(20, 20), "PNG"))
    assert stored is None and "decompression bomb" in why and "400 pixels" in why


def _make_folder(root, counts):
    for split, count in counts.items():
        os.makedirs(os.path.join(root, split), exist_ok=True)
        for index in range(count):
            with open(os.path.join(root, split, f"{index}.JPG"), "wb") as file:
                file.write(encode(random_pixels(8, 8, index), "JPEG"))


def test_list_split_ignores_hidden_and_non_images(tmp_path):
    _make_folder(tmp_path, {"trainA": 2})
    for name in (".DS_Store", "notes.txt", ".hidden.jpg"):
        (tmp_path / "trainA" / name).write_bytes(b"x")
    listing = sources.list_split(str(tmp_path / "trainA"))
    assert [os.path.basename(p) for p in listing.images] == ["0.JPG", "1.JPG"]
    assert sorted(os.path.basename(p) for p in listing.ignored) == [
        ".DS_Store",
        ".hidden.jpg",
        "notes.txt",
    ]


def test_list_split_sets_aside_entries_that_are_no_readable_file(tmp_path):
    _make_folder(tmp_path, {"trainA": 1})
    folder = tmp_path / "trainA"
    os.symlink("gone.jpg", folder / "dangling.jpg")
    os.symlink("loop.png", folder / "loop.png")
    (folder / "folder.jpeg").mkdir()
    (folder / "subfolder").mkdir()  # not named like an image: not looked into, as before
    os.symlink("gone.txt", folder / "dangling.txt")  # not named like an image: ignored
    listing = sources.list_split(str(folder))
    assert listing.images == [str(folder / "0.JPG")]
    assert listing.ignored == [str(folder / "dangling.txt")]
    reasons = {os.path.basename(path): reason for path, reason in listing.unreadable}
    assert sorted(reasons) == ["dangling.jpg", "folder.jpeg", "loop.png"]
    assert reasons["dangling.jpg"].startswith("cannot stat symbolic link to 'gone.jpg'")
    assert "No such file or directory" in reasons["dangling.jpg"]
    assert "Too many levels of symbolic links" in reasons["loop.png"]
    assert reasons["folder.jpeg"] == "a folder, not an image file"

    plan = sources.plan_split("trainA/*", str(tmp_path))
    assert [kwargs["paths"] for _, kwargs in plan.shards] == [listing.images]
    assert [source for source, _ in plan.unreadable] == [
        "trainA/dangling.jpg",
        "trainA/folder.jpeg",
        "trainA/loop.png",
    ]


def test_check_folder_names_missing_and_empty_splits(tmp_path):
    _make_folder(tmp_path, {"trainA": 1, "trainB": 1, "testA": 0})
    with pytest.raises(sources.DataError) as error:
        sources.check_folder(str(tmp_path))
    assert "holds no image files" in str(error.value) and "testA" in str(error.value)
    assert "missing split folder" in str(error.value) and "testB" in str(error.value)


def test_check_folder_names_why_a_split_has_no_readable_image(tmp_path):
    _make_folder(tmp_path, {split: 1 for split in ("trainA", "trainB", "testA", "testB")})
    os.remove(tmp_path / "testA" / "0.JPG")
    os.symlink("gone.jpg", tmp_path / "testA" / "dangling.jpg")
    with pytest.raises(
        sources.DataError,
        match="testA' holds no image files .*dangling.jpg'"
        ": cannot stat symbolic link to 'gone.jpg'",
    ):
        sources.check_folder(str(tmp_path))


def test_check_folder_rejects_missing_root(tmp_path):
    with pytest.raises(sources.DataError, match="does not exist"):
        sources.check_folder(str(tmp_path / "nope"))


def test_synthetic_pattern_round_trip():
    pattern = sources.synthetic_pattern("testB", seed=1, count=5, size=32)
    assert sources.parse_synthetic_pattern(pattern) == {
        "split": "testB",
        "seed": 1,
        "count": 5,
        "size": 32,
    }
    with pytest.raises(sources.DataError, match="lacks"):
        sources.parse_synthetic_pattern("synthetic:seed=1")
