"""ExampleGen + Preprocess as TFX components under LocalDagRunner, on awkward real-world input."""

import glob
import gzip
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from apache_beam.testing import util as beam_testing
from PIL import Image
from tfx import v1 as tfx
from tfx.utils import io_utils

import local_runner
from components.image_example_gen import component as example_gen_component
from components.image_example_gen import driver as example_gen_driver
from components.preprocess import executor as preprocess_executor
from components.preprocess.component import Preprocess
from cyclegan import data_contract, image_ops, input_pipeline, sources
from tests.helpers import encode, random_pixels

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_ingest(example_gen, root, beam_args=()):
    """Runs example_gen -> Preprocess(load 40, crop 32); returns their output artifact dirs."""
    preprocess = Preprocess(
        examples=example_gen.outputs["examples"],
        load_size=40,
        crop_size=32,
        resize_method="bilinear",
    )
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="ingest",
            pipeline_root=str(root),
            components=[example_gen, preprocess],
            enable_cache=False,
            beam_pipeline_args=list(beam_args),
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                str(root / "metadata.sqlite")
            ),
        )
    )
    raw_dir = max(glob.glob(str(root / "*ExampleGen" / "examples" / "*")), key=os.path.getmtime)
    pixel_dir = max(
        glob.glob(str(root / "Preprocess" / "preprocessed" / "*")), key=os.path.getmtime
    )
    return raw_dir, pixel_dir


def _records(split_dir, compression):
    files = sorted(glob.glob(os.path.join(split_dir, "*")))
    return [
        tf.train.Example.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(files, compression_type=compression)
    ]


def _pixel_images(pixel_dir, split, size):
    out = {}
    for example in _records(data_contract.split_dir(pixel_dir, split), ""):
        feature = example.features.feature
        pixels = np.frombuffer(feature[data_contract.PIXELS].bytes_list.value[0], np.uint8)
        out[feature[data_contract.SOURCE].bytes_list.value[0].decode()] = pixels.reshape(
            size, size, 3
        )
    return out


def _save(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def _png_16bit(height, width):
    buffer = io.BytesIO()
    Image.fromarray(
        (np.arange(height * width, dtype=np.uint16).reshape(height, width) * 40), mode="I;16"
    ).save(buffer, format="PNG")
    return buffer.getvalue()


def _exif_rotated_jpeg():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(random_pixels(30, 50)).save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


GOOD_TRAIN_A = {
    "rgb.jpg": lambda: encode(random_pixels(48, 48), "JPEG"),
    "grey.jpg": lambda: encode(random_pixels(48, 48), "JPEG", "L"),
    "cmyk.jpg": lambda: encode(random_pixels(40, 60), "JPEG", "CMYK"),
    "palette.png": lambda: encode(random_pixels(40, 40), "PNG", "P"),
    "rgba.png": lambda: encode(random_pixels(50, 40), "PNG", "RGBA"),
    "deep.png": lambda: _png_16bit(40, 40),
    "rotated.jpg": _exif_rotated_jpeg,
    "UPPER.JPEG": lambda: encode(random_pixels(44, 44), "JPEG"),
}
BAD_TRAIN_A = {
    "empty.jpg": (b"", "empty file"),
    "truncated.jpg": (encode(random_pixels(64, 64), "JPEG")[:400], "cannot decode image"),
    "garbage.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "cannot decode image"),
}


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "data"
    for name, make in GOOD_TRAIN_A.items():
        _save(root / "trainA" / name, make())
    for name, (data, _) in BAD_TRAIN_A.items():
        _save(root / "trainA" / name, data)
    _save(root / "trainA" / ".DS_Store", b"junk")
    _save(root / "trainA" / "labels.csv", b"a,b")
    for split in ("trainB", "testA", "testB"):
        for index in range(3):
            _save(root / split / f"{index}.png", encode(random_pixels(36, 36, index), "PNG"))
    return root


def test_folder_ingest_reports_bad_files_and_keeps_every_good_one(tmp_path, messy_folder):
    raw_dir, pixel_dir = _run_ingest(
        example_gen_component.folder_example_gen(str(messy_folder)), tmp_path / "tfx"
    )
    report = json.loads(Path(os.path.join(raw_dir, "ingest_report.json")).read_text())
    part = report["trainA"]
    assert part["seen"] == len(GOOD_TRAIN_A) + len(BAD_TRAIN_A)
    assert part["written"] == len(GOOD_TRAIN_A)
    assert part["seen"] == part["written"] + len(part["skipped"])
    reasons = {os.path.basename(item["path"]): item["reason"] for item in part["skipped"]}
    for name, (_, reason) in BAD_TRAIN_A.items():
        assert reason in reasons[name], name
    assert sorted(os.path.basename(p) for p in part["ignored_non_images"]) == [
        ".DS_Store",
        "labels.csv",
    ]
    for split in ("trainB", "testA", "testB"):
        assert report[split]["seen"] == report[split]["written"] == 3
    # Raw shards are GZIP (TFX's format for Examples) of stored, not deflated, blocks.
    shard = glob.glob(os.path.join(raw_dir, "Split-trainA", "*.gz"))[0]
    with gzip.open(shard) as file:
        assert os.path.getsize(shard) > len(file.read())

    # Every good image arrived, 3-channel, at the split's size (train: load size 40).
    images = _pixel_images(pixel_dir, "trainA", 40)
    assert sorted(os.path.basename(s) for s in images) == sorted(GOOD_TRAIN_A)
    grey = images["trainA/grey.jpg"]
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert len(_pixel_images(pixel_dir, "testA", 32)) == 3  # test splits: crop size 32
    counts = json.loads(Path(os.path.join(pixel_dir, "preprocess_counts.json")).read_text())
    assert {s: c["images"] for s, c in counts.items()} == {
        s: report[s]["written"] for s in data_contract.SPLITS
    }


def test_driver_fingerprint_is_tfxs_and_survives_what_cannot_be_stat_ed(messy_folder):
    pattern = str(messy_folder / "trainA" / "*")
    clean = example_gen_driver.split_fingerprint("trainA", pattern)
    assert clean == io_utils.generate_fingerprint("trainA", pattern)  # caches stay valid
    os.symlink("gone.jpg", messy_folder / "trainA" / "dangling.jpg")
    with pytest.raises(OSError):
        io_utils.generate_fingerprint("trainA", pattern)  # what stopped the run before
    broken = example_gen_driver.split_fingerprint("trainA", pattern)
    assert broken != clean and f"num_files:{len(os.listdir(messy_folder / 'trainA'))}," in broken


# Runs ExampleGen -> Preprocess on a folder in a process of its own; prints their outputs.
INGEST = """
import sys
from pathlib import Path
from components.image_example_gen import component
from tests.test_ingest_pipeline import _run_ingest
print(*_run_ingest(component.folder_example_gen(sys.argv[1]), Path(sys.argv[2])))
"""


@pytest.mark.slow
def test_same_input_gives_byte_identical_shards_in_any_process(tmp_path, messy_folder):
    """protobuf writes a tf.train.Example's feature map in an order of its process unless it
    is asked to be deterministic: two fresh processes must still write the same bytes."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", INGEST, str(messy_folder), str(tmp_path / f"run{run}")],
            cwd=REPO,
            env=dict(os.environ, TF_USE_LEGACY_KERAS="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in range(2)
    ]
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
        outputs.append(out.split()[-2:])

    def contents(directory):
        files = glob.glob(os.path.join(directory, "Split-*", "*"))
        return {os.path.relpath(path, directory): Path(path).read_bytes() for path in files}

    for first, second in zip(*outputs):  # ExampleGen's, then Preprocess's
        assert contents(first) and contents(first) == contents(second)


@pytest.mark.slow
def test_multi_processing_beam_gives_the_same_output(tmp_path):
    gen = example_gen_component.synthetic_example_gen(
        seed=0, train_count=300, test_count=4, size=40
    )
    raw_dir, pixel_dir = _run_ingest(
        gen,
        tmp_path / "mp",
        beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    )
    counts = json.loads(Path(os.path.join(pixel_dir, "preprocess_counts.json")).read_text())
    assert counts["trainA"]["images"] == 300 and counts["testB"]["images"] == 4
    assert len(glob.glob(os.path.join(raw_dir, "Split-trainA", "*.gz"))) == 2  # 256 + 44


def _raw_shard(path, images):
    with tf.io.TFRecordWriter(str(path), "GZIP") as writer:
        for source, data in images.items():
            writer.write(data_contract.make_raw_example(data, "A", source).SerializeToString())
    return str(path)


def test_shards_are_preprocessed_in_order_by_the_image_ops_one_file_each(tmp_path):
    # Shards of one Beam bundle: the first longer than a batch of the writing loop, images
    # of several shapes, an empty shard (its output file must exist, empty) and a short one.
    images = {
        f"trainA/{index}.png": encode(random_pixels(30 + index % 7, 40, index), "PNG")
        for index in range(input_pipeline.RAW_BATCH_SIZE + 8)
    }
    names = list(images)
    parts = [names[:-3], [], names[-3:]]
    shards = [
        (
            _raw_shard(tmp_path / f"in{index}.gz", {name: images[name] for name in part}),
            str(tmp_path / f"out{index}.tfrecord"),
        )
        for index, part in enumerate(parts)
    ]
    assert preprocess_executor.preprocess_shards(shards, 32, "bicubic") == len(images)
    for part, (_, output) in zip(parts, shards):
        examples = [
            data_contract.parse_pixel_example(record, 32)
            for record in tf.data.TFRecordDataset(output)
        ]
        assert [source.numpy().decode() for _, source in examples] == part
        for (pixels, _), name in zip(examples, part):
            np.testing.assert_array_equal(
                pixels.numpy(),
                image_ops.preprocess(tf.constant(images[name]), 32, "bicubic").numpy(),
            )


def test_a_bundle_of_shards_streams_through_one_pipeline(tmp_path, monkeypatch):
    # Each new pipeline is set up, fills and drains with cores idle: a bundle pays it once.
    images = [
        {
            f"trainA/{shard}-{index}.png": encode(random_pixels(36, 40, index), "PNG")
            for index in range(shard + 1)
        }
        for shard in range(3)
    ]
    shards = [
        (_raw_shard(tmp_path / f"in{index}.gz", part), str(tmp_path / f"out{index}.tfrecord"))
        for index, part in enumerate(images)
    ]
    pipelines = []
    reader = input_pipeline.raw_example_reader

    def spied_reader(size, method):
        def read(paths):
            pipelines.append(sorted(paths))
            return reader(size, method)(paths)

        return read

    monkeypatch.setattr(input_pipeline, "raw_example_reader", spied_reader)
    with beam.Pipeline() as pipeline:  # the DirectRunner in memory: one bundle
        counts = (
            pipeline
            | beam.Create(shards)
            | beam.ParDo(preprocess_executor._PreprocessBundle(32, "bilinear"))
        )
        beam_testing.assert_that(counts, beam_testing.equal_to([6]))
    assert pipelines == [sorted(raw for raw, _ in shards)]
    for part, (_, output) in zip(images, shards):
        sources = [
            data_contract.parse_pixel_example(record, 32)[1].numpy().decode()
            for record in tf.data.TFRecordDataset(output)
        ]
        assert sources == list(part)


def test_an_image_tensorflow_cannot_decode_is_named_and_its_shard_not_written(tmp_path):
    good = {"trainA/good.png": encode(random_pixels(36, 36), "PNG")}
    bad = {"trainA/bad.jpg": encode(random_pixels(64, 64), "JPEG")[:400]}
    shards = [
        (_raw_shard(tmp_path / f"in{index}.gz", images), tmp_path / f"out{index}.tfrecord")
        for index, images in enumerate([good, bad])
    ]
    with pytest.raises(RuntimeError, match="TensorFlow cannot decode 'trainA/bad.jpg'"):
        preprocess_executor.preprocess_shards(
            [(raw, str(output)) for raw, output in shards], 32, "bilinear"
        )
    assert not shards[1][1].exists()


def test_tfds_source_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_problem", lambda timeout_s: None)
    with tfds.testing.mock_data(num_examples=5):
        raw_dir, pixel_dir = _run_ingest(
            example_gen_component.tfds_example_gen("cycle_gan/horse2zebra", str(tmp_path / "tfds")),
            tmp_path / "tfx",
        )
    report = json.loads(Path(os.path.join(raw_dir, "ingest_report.json")).read_text())
    assert {split: part["written"] for split, part in report.items()} == {
        split: 5 for split in data_contract.SPLITS
    }
    images = _pixel_images(pixel_dir, "trainB", 40)
    assert len(images) == 5 and all(
        s.startswith("tfds:cycle_gan/horse2zebra/trainB/") for s in images
    )


def test_unreachable_tfds_download_fails_fast_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sources,
        "network_problem",
        lambda timeout_s: "storage.googleapis.com:443: connection refused",
    )
    start = time.monotonic()
    code = local_runner.main(
        [
            "--data",
            "tfds:cycle_gan/horse2zebra",
            "--tfds-data-dir",
            str(tmp_path / "tfds"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and time.monotonic() - start < 30
    message = capsys.readouterr().err
    assert "not prepared" in message and "--tfds-data-dir" in message
    assert "connection refused" in message


def test_unknown_tfds_dataset_is_named(tmp_path, capsys):
    assert local_runner.main(["--data", "tfds:no_such_dataset", "--output-dir", str(tmp_path)]) == 2
    assert "unknown TFDS dataset 'no_such_dataset'" in capsys.readouterr().err
