"""End to end: `python local_runner.py` under LocalDagRunner on tiny data (32 px, 3 steps)."""

import io
import json
import logging
import os
from pathlib import Path

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from PIL import Image

import local_runner
from cyclegan import serving_dir
from pipeline import outputs
from tests.helpers import TINY_FLAGS, encode, random_pixels


def _run(output_dir, *flags):
    assert local_runner.main(["--output-dir", str(output_dir), *TINY_FLAGS, *flags]) == 0
    return outputs.latest_outputs(os.path.join(output_dir, "metadata.sqlite"), "cyclegan")


def _classifier_executions(output_dir):
    """States of the DomainClassifier's executions, in order."""
    store = outputs.read_store(os.path.join(output_dir, "metadata.sqlite"))
    types = {t.id: t.name for t in store.get_execution_types()}
    return [
        metadata_store_pb2.Execution.State.Name(e.last_known_state)
        for e in sorted(store.get_executions(), key=lambda e: e.id)
        if types[e.type_id].endswith("DomainClassifier")
    ]


def _last_run_states(output_dir):
    """{component: state} of the executions of the latest pipeline run, from ML Metadata."""
    store = outputs.read_store(os.path.join(output_dir, "metadata.sqlite"))
    run = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
    types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    return {
        types[e.type_id]: metadata_store_pb2.Execution.State.Name(e.last_known_state)
        for e in store.get_executions_by_context(run.id)
    }


def _assert_serves_both_directions(pushed_model):
    # TF Serving's layout: <base>/<model name>/<numeric version>/saved_model.pb
    assert os.path.basename(pushed_model).isdigit()
    assert os.path.basename(os.path.dirname(pushed_model)) == "cyclegan"
    assert os.path.exists(os.path.join(pushed_model, "saved_model.pb"))
    loaded = tf.saved_model.load(pushed_model)
    jpeg = encode(random_pixels(50, 70), "JPEG")
    for signature in ("serving_default", "translate_a_to_b", "translate_b_to_a"):
        png = loaded.signatures[signature](image_bytes=tf.constant([jpeg]))["png_bytes"].numpy()[0]
        image = Image.open(io.BytesIO(png))
        assert (image.format, image.size, image.mode) == ("PNG", (32, 32), "RGB")


@pytest.mark.slow
def test_synthetic_pipeline_end_to_end(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    result = _run(tmp_path)
    steps = set(_last_run_states(tmp_path))
    for step in steps:  # every step's start and end is logged, with our words
        assert f"Step {step} started" in caplog.messages
        assert any(m.startswith(f"Step {step} finished in ") for m in caplog.messages), step
    _assert_serves_both_directions(result.pushed_model)
    assert Image.open(result.translations_png).size == (3 * 32, 4 * 32)
    report = json.loads(Path(result.ingest_report).read_text())
    assert {split: part["written"] for split, part in report.items()} == {
        "trainA": 6,
        "trainB": 6,
        "testA": 3,
        "testB": 3,
    }
    printed = capsys.readouterr().out
    assert result.pushed_model in printed and result.translations_png in printed
    assert f"run report (HTML):  {result.report}" in printed
    page = Path(result.report).read_text()
    assert page.count("<img ") == 2 * 3 * 3 + 1  # 3 test images a direction, no served model

    evaluation = json.loads(Path(result.evaluation).read_text())
    assert evaluation["blessed"] and evaluation["baseline_metrics"] is None
    assert "ground_truth_l1_ab" in evaluation["metrics"]  # synthetic test images pair up
    assert any("FID skipped" in note for note in evaluation["notes"])
    assert {"domain_score_ab", "domain_score_ba_untranslated"} <= set(evaluation["metrics"])
    assert 0.0 <= evaluation["domain_classifier"]["accuracy_a"] <= 1.0

    # A blessing threshold is the Evaluator's alone: only it and the Pusher run again; every
    # other step is taken from the cache.
    caplog.clear()
    stricter = _run(tmp_path, "--set=evaluation.max_cycle_l1=0.001")
    assert any(
        m.startswith("Step Trainer taken from the cache (execution ") for m in caplog.messages
    )
    assert stricter.pushed_model is None and "cycle_l1_aba" in stricter.failed_checks
    states = _last_run_states(tmp_path)
    assert {name for name, state in states.items() if state != "CACHED"} == {
        "Evaluator",
        "Pusher",
        "Report",
    }
    assert states["Trainer"] == states["TrainingConfig"] == states["DomainClassifier"] == "CACHED"

    # A model that fails a check is evaluated against the blessed one and not pushed.
    capsys.readouterr()
    # A new CycleGAN (another seed) on the same data: TFX's cache keeps the domain classifier.
    strict = _run(tmp_path, "--set=bless_max_cycle_l1=0.001", "--set=train.seed=1")
    assert strict.pushed_model is None and "cycle_l1_aba" in strict.failed_checks
    assert "NOT PUSHED" in capsys.readouterr().out
    evaluation = json.loads(Path(strict.evaluation).read_text())
    assert not evaluation["blessed"] and evaluation["baseline_metrics"] is not None
    assert evaluation["baseline_version"] == int(os.path.basename(result.pushed_model))
    assert serving_dir.versions(os.path.dirname(result.pushed_model)) == [
        int(os.path.basename(result.pushed_model))
    ]
    assert _classifier_executions(tmp_path) == ["COMPLETE", "CACHED", "CACHED"]


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


@pytest.mark.slow
def test_folder_pipeline_with_grayscale_and_bad_files(tmp_path):
    data = tmp_path / "data"
    for index in range(3):
        _write(data / "trainA" / f"horse{index}.jpg", encode(random_pixels(48, 48, index), "JPEG"))
        _write(data / "trainB" / f"zebra{index}.PNG", encode(random_pixels(40, 56, index), "PNG"))
    _write(data / "trainA" / "gray.jpg", encode(random_pixels(48, 48, 9), "JPEG", "L"))
    _write(data / "trainB" / "broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    _write(data / "trainB" / "README.txt", b"notes")
    # Entries that cannot be stat'ed or read (TFX's own driver stops the run on the first two).
    os.symlink("gone.jpg", data / "trainA" / "dangling.jpg")
    os.symlink("loop.png", data / "trainB" / "loop.png")
    (data / "trainB" / "folder.jpg").mkdir()
    for split in ("testA", "testB"):
        for index in range(2):
            _write(data / split / f"{index}.jpeg", encode(random_pixels(32, 32, index), "JPEG"))

    result = _run(tmp_path / "out", "--data", str(data))

    _assert_serves_both_directions(result.pushed_model)
    report = json.loads(Path(result.ingest_report).read_text())
    assert (report["trainA"]["seen"], report["trainA"]["written"]) == (5, 4)  # grayscale in
    assert (report["trainB"]["seen"], report["trainB"]["written"]) == (6, 3)
    reasons = {item["path"]: item["reason"] for part in report.values() for item in part["skipped"]}
    assert "cannot decode" in reasons["trainB/broken.jpg"]
    assert "symbolic link to 'gone.jpg'" in reasons["trainA/dangling.jpg"]
    assert "No such file or directory" in reasons["trainA/dangling.jpg"]
    assert "Too many levels of symbolic links" in reasons["trainB/loop.png"]
    assert "a folder" in reasons["trainB/folder.jpg"]
    for part in report.values():
        assert part["seen"] == part["written"] + len(part["skipped"])
    assert report["trainB"]["ignored_non_images"][0].endswith("README.txt")


def test_bad_data_folder_fails_before_any_work(tmp_path, capsys):
    (tmp_path / "data" / "trainA").mkdir(parents=True)
    assert (
        local_runner.main(["--data", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out")])
        == 2
    )
    printed = capsys.readouterr().err
    assert "missing split folder" in printed and "trainB" in printed
    assert not (tmp_path / "out").exists()


def test_cpu_replicas_need_a_batch_that_splits(tmp_path, capsys):
    assert local_runner.main(["--cpu-replicas", "2", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: train.batch_size 1 does not split evenly over 2 replicas (--cpu-replicas 2); "
        "use a multiple of 2, e.g. --set train.batch_size=2\n"
    )


def test_bad_flag_value_is_a_clear_error(tmp_path, capsys):
    assert local_runner.main(["--set", "epochs=many", "--output-dir", str(tmp_path)]) == 2
    assert "error: train.epochs takes a value of type int" in capsys.readouterr().err


def test_a_missing_warm_start_is_refused_before_any_work(tmp_path, capsys):
    missing = tmp_path / "no-model"
    flags = ["--set", f"train.init_from={missing}", "--output-dir", str(tmp_path / "out")]
    assert local_runner.main(flags) == 2
    assert capsys.readouterr().err == (
        f"error: train.init_from {missing}: no such model or checkpoint\n"
    )
    assert not (tmp_path / "out" / "tfx").exists()


def test_output_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_bytes(b"")
    output_dir = tmp_path / "afile" / "out"  # root writes anywhere, but not under a file
    assert local_runner.main(["--output-dir", str(output_dir)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot write the output folder {output_dir}: Not a directory\n"
    )
