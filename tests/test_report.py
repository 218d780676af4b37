"""The run report: what the page holds, and the page as a browser renders it."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from cyclegan import evaluation, metrics, report

CHECKS = metrics.blessing_checks(
    {
        "cycle_l1_aba": 0.2,
        "cycle_l1_bab": 0.9,
        "output_spread_ab": 0.3,
        "output_spread_ba": 0.3,
        "identity_l1_a": 0.1,
        "identity_l1_b": 0.1,
    },
    max_cycle_l1=0.5,
    min_output_spread=0.01,
)


def _inputs(tmp_path, images_per_direction=3, served=True, pushed=True):
    rows_dir = str(tmp_path / "translations")
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (images_per_direction, 16, 16, 3)), tf.float32)
    rows = {
        direction: [
            {kind: images[i] for kind in evaluation.ROW_KINDS if served or kind != "served"}
            for i in range(images_per_direction)
        ]
        for direction in ("a_to_b", "b_to_a")
    }
    evaluation.write_rows(rows, rows_dir)
    logdir = str(tmp_path / "logs")
    with tf.summary.create_file_writer(logdir).as_default():
        for step in range(1, 6):
            tf.summary.scalar("loss/generator_ab", 1.0 / step, step=step)
            tf.summary.scalar("learning_rate", 2e-4, step=step)
            tf.summary.scalar("eval/domain_score_ab", 0.1 * step, step=step)
    measured = {"cycle_l1_aba": 0.2, "cycle_l1_bab": 0.9, "fid_ab": float("nan")}
    judged = {
        "metrics": measured,
        "baseline_metrics": {"cycle_l1_aba": 0.25} if served else None,
        "baseline_version": 17 if served else None,
        "checks": [check._asdict() for check in CHECKS],
        "blessed": False,
        "failed_checks": [c.failure for c in CHECKS if not c.passed],
        "notes": ["FID and KID skipped: no InceptionV3 weights"],
    }
    ingest = {
        "trainA": {
            "split": "trainA",
            "seen": 5,
            "written": 4,
            "skipped": [
                {"path": "trainA/broken.jpg", "reason": "not an image: cannot identify image file"}
            ],
        },
        "testA": {"split": "testA", "seen": 2, "written": 2, "skipped": []},
    }
    return report.ReportInputs(
        evaluation=judged,
        rows_dir=rows_dir,
        tensorboard_dir=logdir,
        classifier={"accuracy_a": 0.9, "accuracy_b": 0.8, "test_images_a": 2, "test_images_b": 2},
        ingest=ingest,
        pushed_version="1796075213" if pushed else None,
        pushed_to="/srv/serving/cyclegan/1796075213" if pushed else None,
    )


def test_the_page_holds_every_part(tmp_path):
    page = report.build_html(_inputs(tmp_path))
    # 3 images x 4 kinds x 2 directions, and the curves.
    assert page.count("<img ") == 3 * 4 * 2 + 1
    assert "NOT BLESSED, not pushed: cycle_l1_bab 0.9000 &gt; threshold 0.5" in page
    assert "version 17 (the model serving as stable)" in page
    assert "served model's translation" in page and "candidate, translated back" in page
    assert page.count('<span class="bad">FAIL</span>') == 1
    assert "trainA/broken.jpg" in page and "not an image" in page
    assert "A 0.9000, B 0.8000" in page
    assert "FID and KID skipped" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_without_a_served_model_the_column_is_left_out(tmp_path):
    page = report.build_html(_inputs(tmp_path, served=False, pushed=False))
    assert page.count("<img ") == 3 * 3 * 2 + 1
    assert "Baseline: none" in page and "served model" not in page


def test_curves_come_from_the_event_files(tmp_path):
    scalars = report.read_scalars(str(_inputs(tmp_path).tensorboard_dir))
    assert set(scalars) == {"loss/generator_ab", "learning_rate", "eval/domain_score_ab"}
    assert [step for step, _ in scalars["loss/generator_ab"]] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(scalars["eval/domain_score_ab"][-1][1], 0.5, rtol=1e-6)
    png = report.curves_png(scalars)
    assert tf.io.decode_png(png).shape[-1] in (3, 4)


PROBE = """
<script>
  // Appended by the test: what the page loaded, read after it finished loading.
  window.addEventListener("load", () => {
    const images = [...document.images];
    const probe = document.createElement("pre");
    probe.id = "probe";
    probe.textContent = JSON.stringify({
      images: images.length,
      broken: images.filter((img) => !img.complete || img.naturalWidth === 0).length,
      rows: document.querySelectorAll("tbody tr").length,
      failedResources: performance.getEntriesByType("resource").filter(
        (entry) => entry.responseStatus >= 400).length,
    });
    document.body.appendChild(probe);
  });
</script>
"""


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, installed when missing (as root, with apt); skipped if it cannot be."""
    found = shutil.which("chromium")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["install"], ["update"], ["install"]):  # stale package lists: update
            if command == ["install"] and shutil.which("chromium"):
                break
            arguments = ["-y", "-q", "chromium"] if command == ["install"] else ["-q"]
            subprocess.run(
                ["apt-get", *command, *arguments],
                env=environment,
                capture_output=True,
                timeout=900,
            )
        found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and could not be (apt-get install chromium)")
    return found


def test_a_real_browser_renders_the_report(tmp_path, chromium):
    page = report.build_html(_inputs(tmp_path))
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"))
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*flags, "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    (probe,) = [line for line in dom.split('<pre id="probe">')[1:]]
    loaded = json.loads(probe.split("</pre>")[0].replace("&quot;", '"'))
    # Images: 3 per direction x 4 kinds x 2 directions + the curves; table rows: 6 image
    # rows, 3 metrics, the checks, 2 ingest splits, 1 skipped file.
    assert loaded == {
        "images": 25,
        "broken": 0,
        "rows": 6 + 3 + len(CHECKS) + 2 + 1,
        "failedResources": 0,
    }
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1200,2400", f"--screenshot={screenshot}", path.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert tf.io.decode_png(screenshot.read_bytes()).shape[:2] == (2400, 1200)
