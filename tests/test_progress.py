"""Progress within long work: a bar on a terminal, a line at most every 30 s in a log."""

import io
import logging

from cyclegan import progress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_every_30_s_with_rate_and_eta(caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    clock = Clock()
    steps = progress.StepProgress(1334, "training", initial=100, stream=io.StringIO(), clock=clock)
    for _ in range(9):  # a step every 10 s
        clock.now += 10
        steps.update()
    lines = [m for m in caplog.messages if m.startswith("training:")]
    assert len(lines) == 3  # at 30, 60 and 90 s
    # 3 steps since the start (resumed at 100) in 30 s: 10 s a step, 1231 left.
    assert lines[0] == "training:   8% 103/1334 steps [00:30<3:25:10, 10.00s/step]"
    assert lines[2].startswith("training:   8% 109/1334 steps [01:30<")
    steps.close()


def test_a_terminal_gets_a_bar(caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    terminal = Terminal()
    with progress.StepProgress(10, "domain classifier", stream=terminal) as steps:
        for _ in range(10):
            steps.update()
        assert steps.bar.n == 10
    assert "domain classifier:   0%|" in terminal.getvalue()  # a bar, redrawn in place
    assert terminal.getvalue().endswith("\r")  # and cleared at the end
    assert not [m for m in caplog.messages if m.startswith("domain classifier")]


def test_the_domain_classifier_reports_its_steps(caplog, monkeypatch):
    import tensorflow as tf

    from cyclegan import domain_classifier

    caplog.set_level(logging.INFO, logger="cyclegan")
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a line every step
    images = tf.data.Dataset.from_tensor_slices(tf.zeros([4, 16, 16, 3], tf.uint8))
    domain_classifier.train(images, images, image_size=16, steps=3, batch_size=4)
    lines = [m for m in caplog.messages if m.startswith("domain classifier:")]
    assert [line.split()[3] for line in lines] == ["1/3", "2/3", "3/3"]


def test_the_client_shows_a_bar_on_a_terminal(tmp_path, monkeypatch, capsys):
    from client import translate
    from cyclegan.model import CycleGan
    from cyclegan.serving_dir import push
    from tests.helpers import encode, export_model, random_pixels, tiny_config

    config = tiny_config()
    base = str(tmp_path / "serving")
    push(export_model(CycleGan(config), config, str(tmp_path / "model")), base)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        (folder / f"{index}.jpg").write_bytes(encode(random_pixels(40, 40, index), "JPEG"))
    (folder / "broken.png").write_bytes(b"not a png")
    monkeypatch.setattr(translate, "_terminal", lambda: True)
    code = translate.main([str(folder), "--output", str(tmp_path / "out"), "--model-dir", base])
    printed = capsys.readouterr()
    assert code == 1
    assert "100%" in printed.err and "4/4" in printed.err  # the bar
    assert "broken.png FAILED: image 0 of the batch" in printed.out  # above it
    assert "[1/4]" not in printed.out  # no line per file
