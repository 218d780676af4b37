"""Where images come from, and how one file becomes a raw tf.Example (or a skip reason).

Plain Python + Pillow; the Beam executor maps these functions over files.
"""

from __future__ import annotations

import io
import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import tensorflow as tf
from PIL import Image, ImageOps

from components import data_contract

# A larger image is rejected from its header, before decoding: a decompression bomb.
MAX_PIXELS = 64_000_000
SYNTHETIC_PREFIX = "synthetic:"


class DataError(ValueError):
    """The input data cannot be used; the message says what and where."""


class Listing(NamedTuple):
    images: List[str]  # absolute paths of candidate image files, sorted
    ignored: List[str]  # other files (hidden, non-image), sorted


def list_split(folder: str) -> Listing:
    """Lists one split folder: image files by extension (any case), everything else aside.

    Uses tf.io.gfile, so bucket paths (gs://, s3://) work as well as local ones.
    """
    images, ignored = [], []
    for name in sorted(tf.io.gfile.listdir(folder)):
        path = os.path.join(folder, name)
        if tf.io.gfile.isdir(path):
            continue
        if not name.startswith(".") and name.lower().endswith(data_contract.IMAGE_EXTENSIONS):
            images.append(path)
        else:
            ignored.append(path)
    return Listing(images, ignored)


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
        listings[split] = list_split(folder)
        if not listings[split].images:
            problems.append(
                f"split folder {folder!r} holds no image files "
                f"({', '.join(data_contract.IMAGE_EXTENSIONS)}, any letter case)")
    if problems:
        raise DataError(
            f"data folder {root!r} must hold {'/, '.join(data_contract.SPLITS)}/ with images: "
            + "; ".join(problems))
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
                return None, (f"{width}x{height} = {width * height} pixels exceeds the limit of "
                              f"{MAX_PIXELS} (possible decompression bomb)")
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


def parse_synthetic_pattern(pattern: str) -> Dict[str, Any]:
    """'synthetic:split=trainA,seed=0,count=64,size=64' -> a dict of those values."""
    if not pattern.startswith(SYNTHETIC_PREFIX):
        raise DataError(f"not a synthetic source pattern: {pattern!r}")
    values: Dict[str, Any] = dict(item.partition("=")[::2]
                                  for item in pattern[len(SYNTHETIC_PREFIX):].split(","))
    missing = {"split", "seed", "count", "size"} - set(values)
    if missing:
        raise DataError(f"synthetic source pattern {pattern!r} lacks {sorted(missing)}")
    for key in ("seed", "count", "size"):
        values[key] = int(values[key])
    return values


def synthetic_pattern(split: str, seed: int, count: int, size: int) -> str:
    # The split is part of the pattern: TFX maps a split pattern back to its split.
    return f"{SYNTHETIC_PREFIX}split={split},seed={seed},count={count},size={size}"
