"""judge() on its own: the candidate against the thresholds and the served model."""

import logging
import os

from cyclegan import data_contract, evaluation
from cyclegan.config import EvaluationConfig
from cyclegan.model import CycleGan
from cyclegan.serving_dir import push
from tests.helpers import export_model, write_pixel_records

LENIENT = EvaluationConfig(min_output_spread=0.0, min_domain_score=0.0)


def _export(config, path):
    model = CycleGan(config)
    return export_model(model, config, str(path))


def _test_files(tmp_path, size):
    files = []
    for seed, split in enumerate(data_contract.TEST_SPLITS):
        path = str(tmp_path / "examples" / split / "d")
        write_pixel_records(path, size, 3, seed)
        files.append([path])
    return tuple(files)


def test_a_served_model_of_another_image_size_is_skipped_with_the_reason(
    tmp_path, tiny_config, caplog
):
    caplog.set_level(logging.INFO, logger="cyclegan")
    candidate = _export(tiny_config, tmp_path / "candidate")
    serving = str(tmp_path / "serving")
    bigger = tiny_config.replace(load_size=64, crop_size=64)
    version_dir = push(_export(bigger, tmp_path / "bigger"), serving).path

    judgement = evaluation.judge(candidate, _test_files(tmp_path, 32), serving, LENIENT)
    version = os.path.basename(version_dir)
    assert judgement.baseline is None and judgement.baseline_metrics is None
    assert judgement.blessed  # judged on its own
    note = (
        f"baseline skipped: version {version} ({version_dir}) serves 64 px images, the "
        "candidate 32 px; the candidate is judged on its own"
    )
    assert note in judgement.notes and note in caplog.messages
    assert judgement.report()["baseline_version"] is None


def test_the_baseline_is_the_stable_version_after_a_rollback(tmp_path, tiny_config, caplog):
    from cyclegan import serving_dir

    caplog.set_level(logging.INFO, logger="cyclegan")
    serving = str(tmp_path / "serving")
    first = push(_export(tiny_config, tmp_path / "first"), serving).path
    candidate = _export(tiny_config, tmp_path / "candidate")
    push(candidate, serving)  # stable: the newest, the candidate itself
    serving_dir.move_label(serving, "stable", int(os.path.basename(first)))  # rolled back

    judgement = evaluation.judge(candidate, _test_files(tmp_path, 32), serving, LENIENT)
    assert judgement.baseline.path == first
    assert judgement.report()["baseline_model"] == first
    assert judgement.report()["canary"][0]["ok"]
    # Its progress, phase by phase.
    progress = [m.split(" in ")[0] for m in caplog.messages if " evaluated in " in m]
    assert progress == ["Candidate evaluated", "Baseline evaluated"]
    assert any(
        m.startswith("Evaluating the candidate on 3 + 3 test images") for m in caplog.messages
    )
