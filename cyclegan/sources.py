"""Where images come from (folders, TFDS, the synthetic set), and which of them are usable.

Plain Python + Pillow + TensorFlow I/O; the Beam executor maps these functions over shards.
"""

from __future__ import annotations

import io
import os
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import tensorflow as tf
from PIL import Image, ImageOps

from cyclegan import data_contract
from cyclegan.entry import DataError

# A larger image is rejected from its header, before decoding: a decompression bomb.
MAX_PIXELS = 64_000_000
SYNTHETIC_PREFIX = "synthetic:"
TFDS_PREFIX = "tfds:"


class Listing(NamedTuple):
    images: List[str]  # absolute paths of candidate image files, sorted
    ignored: List[str]  # other files (hidden, non-image), sorted
    unreadable: List[Tuple[str, str]]  # (path, reason): named like an image, but not a file


def _unreadable_because(path: str) -> Optional[str]:
    """Why an entry cannot be read as an image file, as far as stat tells; None if it can."""
    try:
        return "a folder, not an image file" if tf.io.gfile.stat(path).is_directory else None
    except tf.errors.OpError as error:  # a broken or looping symbolic link, say
        link = f"symbolic link to {os.readlink(path)!r}: " if os.path.islink(path) else ""
        return f"cannot stat {link}{error.message}"


def list_split(folder: str) -> Listing:
    """Lists one split folder: image files by extension (any case), everything else aside.

    An entry named like an image that cannot be stat'ed, or is a folder, is listed as
    unreadable with the reason, to be skipped and reported. Other folders are not looked into.
    Uses tf.io.gfile, so bucket paths (gs://, s3://) work as well as local ones.
    """
    images, ignored, unreadable = [], [], []
    for name in sorted(tf.io.gfile.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.startswith(".") and name.lower().endswith(data_contract.IMAGE_EXTENSIONS):
            reason = _unreadable_because(path)
            if reason:
                unreadable.append((path, reason))
            else:
                images.append(path)
        elif not tf.io.gfile.isdir(path):
            ignored.append(path)
    return Listing(images, ignored, unreadable)


def check_folder(root: str) -> Dict[str, Listing]:
    """Fails fast, before any pipeline work, on a missing folder or a missing/empty split."""
    if not tf.io.gfile.isdir(root):
        raise DataError(f"data folder {root!r} does not exist or is not a folder")
    listings, problems = {}, []
    for split in data_contract.SPLITS:
        folder = os.path.join(root, split)
        if not tf.io.gfile.isdir(folder):
            problems.append(f"missing split folder {folder!r}")
            continue
        listing = listings[split] = list_split(folder)
        if not listing.images:
            problems.append(
                f"split folder {folder!r} holds no image files "
                f"({', '.join(data_contract.IMAGE_EXTENSIONS)}, any letter case)"
                + "".join(f"; {path!r}: {reason}" for path, reason in listing.unreadable)
            )
    if problems:
        raise DataError(
            f"data folder {root!r} must hold {'/, '.join(data_contract.SPLITS)}/ with images: "
            + "; ".join(problems)
        )
    return listings


def _needs_conversion(image: Image.Image) -> bool:
    """True when TensorFlow's decoder would not give the right 8-bit RGB pixels as is."""
    if image.format not in ("JPEG", "PNG"):
        return True
    if image.format == "JPEG" and image.mode not in ("L", "RGB"):
        return True  # CMYK / YCCK JPEGs
    orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation
    return orientation not in (0, 1)


def _to_rgb_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        upright.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def validate_image(data: bytes) -> Tuple[Optional[bytes], Optional[str]]:
    """Returns (bytes to store, None) for a usable image, or (None, reason) for a bad one.

    Stores the original bytes unless TensorFlow could not decode them to the right RGB
    pixels; those are converted once to lossless PNG.
    """
    if not data:
        return None, "empty file (0 bytes)"
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return None, (
                    f"{width}x{height} = {width * height} pixels exceeds the limit of "
                    f"{MAX_PIXELS} (possible decompression bomb)"
                )
            convert = _needs_conversion(image)
            if image.format == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # fast full parse
            image.load()
    except Image.DecompressionBombError as error:
        return None, f"rejected as a decompression bomb: {error}"
    except Exception as error:  # Pillow raises many types for corrupt data
        return None, f"cannot decode image: {type(error).__name__}: {error}"
    if convert:
        try:
            return _to_rgb_png(data), None
        except Exception as error:
            return None, f"cannot convert image to RGB: {type(error).__name__}: {error}"
    return data, None


def _parse_pattern(pattern: str, prefix: str, required: Tuple[str, ...]) -> Dict[str, str]:
    values = dict(item.partition("=")[::2] for item in pattern[len(prefix) :].split(","))
    missing = set(required) - set(values)
    if missing:
        raise DataError(f"source pattern {pattern!r} lacks {sorted(missing)}")
    return values


def parse_synthetic_pattern(pattern: str) -> Dict[str, Any]:
    """'synthetic:split=trainA,seed=0,count=64,size=64' -> a dict of those values."""
    values: Dict[str, Any] = _parse_pattern(
        pattern, SYNTHETIC_PREFIX, ("split", "seed", "count", "size")
    )
    for key in ("seed", "count", "size"):
        values[key] = int(values[key])
    return values


def synthetic_pattern(split: str, seed: int, count: int, size: int) -> str:
    # The split is part of the pattern: TFX maps a split pattern back to its split.
    return f"{SYNTHETIC_PREFIX}split={split},seed={seed},count={count},size={size}"


def tfds_pattern(name: str, split: str, data_dir: Optional[str]) -> str:
    return f"{TFDS_PREFIX}name={name},split={split}" + (f",data_dir={data_dir}" if data_dir else "")


def parse_tfds_pattern(pattern: str) -> Dict[str, Any]:
    values: Dict[str, Any] = _parse_pattern(pattern, TFDS_PREFIX, ("name", "split"))
    values.setdefault("data_dir", None)
    return values


# Reading. Each split is planned as shards: (reader function, its keyword arguments). A
# worker turns one shard into one output file, in order, so the output is deterministic and
# only one image at a time is in memory.


class Item(NamedTuple):
    source: str  # where the image came from, as the report and the examples name it
    data: Optional[bytes]  # None when it could not be read
    error: Optional[str]  # why it could not be read


class SplitPlan(NamedTuple):
    shards: List[Tuple[Callable[..., Iterator[Item]], Dict[str, Any]]]  # none: an empty split
    ignored: List[str]  # files that are not image candidates
    unreadable: List[Tuple[str, str]]  # (source, reason): skipped before reading


SHARD_SIZE = 256  # images per output file


def _ranges(count: int) -> List[Tuple[int, int]]:
    return [(start, min(start + SHARD_SIZE, count)) for start in range(0, count, SHARD_SIZE)]


def _source(path: str, root: str) -> str:
    return os.path.relpath(path, root) if "://" not in path else path


def read_files(paths: List[str], root: str) -> Iterator[Item]:
    for path in paths:
        source = _source(path, root)
        try:
            with tf.io.gfile.GFile(path, "rb") as file:
                yield Item(source, file.read(), None)
        except (OSError, tf.errors.OpError) as error:
            yield Item(source, None, f"cannot read file: {error}")


def render_synthetic(split: str, seed: int, size: int, start: int, stop: int) -> Iterator[Item]:
    from cyclegan import synthetic

    for source, png in synthetic.generate(seed, split, size, start, stop):
        yield Item(source, png, None)


def _tfds_builder(name: str, data_dir: Optional[str]):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # DatasetNotFoundError and friends
        raise DataError(f"unknown TFDS dataset {name!r}: {error}") from None


def read_tfds(
    name: str, split: str, data_dir: Optional[str], start: Optional[int], stop: Optional[int]
) -> Iterator[Item]:
    """Reads examples [start, stop) of a TFDS split; the whole split when start is None."""
    import tensorflow_datasets as tfds

    dataset = _tfds_builder(name, data_dir).as_dataset(
        split=split if start is None else f"{split}[{start}:{stop}]",
        shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()},
    )  # the stored bytes, not pixels
    for index, example in enumerate(dataset, start or 0):
        yield Item(f"tfds:{name}/{split}/{index:06d}", example["image"].numpy(), None)


def plan_split(pattern: str, input_base: Optional[str]) -> SplitPlan:
    """How to read one split, from its ExampleGen split pattern."""
    if pattern.startswith(SYNTHETIC_PREFIX):
        params = parse_synthetic_pattern(pattern)
        return SplitPlan(
            [
                (
                    render_synthetic,
                    dict(
                        split=params["split"],
                        seed=params["seed"],
                        size=params["size"],
                        start=start,
                        stop=stop,
                    ),
                )
                for start, stop in _ranges(params["count"])
            ],
            [],
            [],
        )
    if pattern.startswith(TFDS_PREFIX):
        params = parse_tfds_pattern(pattern)
        builder = _tfds_builder(params["name"], params["data_dir"])
        builder.download_and_prepare()  # a no-op when prepared
        splits = builder.info.splits
        if splits and params["split"] not in splits:
            raise DataError(
                f"TFDS dataset {params['name']!r} has no split {params['split']!r}; "
                f"it has {sorted(splits)}"
            )
        # Without split metadata the size is unknown: read the split as one shard.
        ranges = _ranges(splits[params["split"]].num_examples) if splits else [(None, None)]
        return SplitPlan(
            [
                (
                    read_tfds,
                    dict(
                        name=params["name"],
                        split=params["split"],
                        data_dir=params["data_dir"],
                        start=start,
                        stop=stop,
                    ),
                )
                for start, stop in ranges
            ],
            [],
            [],
        )
    if input_base is None:
        raise DataError(f"split pattern {pattern!r} needs an input folder")
    folder = os.path.dirname(os.path.join(input_base, pattern))
    listing = list_split(folder)
    return SplitPlan(
        [
            (read_files, dict(paths=listing.images[start:stop], root=input_base))
            for start, stop in _ranges(len(listing.images))
        ],
        listing.ignored,
        [(_source(path, input_base), reason) for path, reason in listing.unreadable],
    )


def check_tfds(name: str, data_dir: Optional[str], timeout_s: float = 5.0) -> None:
    """Fails fast when a TFDS dataset is unknown, or unprepared and the network unreachable.

    TFDS itself retries downloads for minutes before failing offline.
    """
    builder = _tfds_builder(name, data_dir)
    if builder.is_prepared():
        return
    problem = network_problem(timeout_s)
    if problem:
        raise DataError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir!r} and the download "
            f"host cannot be reached ({problem}). Prepare it on a machine with network access "
            f"(`tfds build {name} --data_dir DIR`) and pass --tfds-data-dir DIR, or pass a "
            f"trainA/trainB/testA/testB folder as --data."
        )


def network_problem(timeout_s: float) -> Optional[str]:
    """None when TFDS's download host answers within timeout_s, else what went wrong."""
    import socket

    host = "storage.googleapis.com"  # where TFDS fetches prepared datasets first
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return None
    except OSError as error:
        return f"{host}:443: {error}"
