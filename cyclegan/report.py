"""The run report: one self-contained HTML page (images inline) a person reads after a run.

  - each test image the Evaluator kept: input | candidate's translation | served model's
    translation | cycled back, both directions, labelled
  - metrics, candidate against served; each blessing check with its rule and pass/fail
  - the verdict and the pushed version
  - training curves (losses, learning rate, domain scores) from the Trainer's TensorBoard
    event files, drawn with matplotlib
  - the domain classifier's accuracy; the ingest report's counts and skipped files

Plain data in (what the steps wrote), a string out: the Report step writes it.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from typing import Any, Dict, List, NamedTuple, Optional

import tensorflow as tf

from cyclegan.evaluation import ROW_KINDS

ROW_FILE = re.compile(r"(a_to_b|b_to_a)_(\d+)_(\w+)\.png")
KIND_LABELS = {
    "input": "input",
    "candidate": "candidate's translation",
    "served": "served model's translation",
    "cycled": "candidate, translated back",
}
DIRECTION_LABELS = {"a_to_b": "A -> B", "b_to_a": "B -> A"}
CURVE_PREFIXES = ("loss/", "learning_rate", "eval/domain_score")


class ReportInputs(NamedTuple):
    evaluation: Dict[str, Any]  # metrics.json as the Evaluator writes it
    rows_dir: str  # the Evaluator's translation PNGs
    tensorboard_dir: Optional[str]  # the Trainer's event files
    classifier: Optional[Dict[str, Any]]  # domain_classifier.json
    ingest: Optional[Dict[str, Any]]  # ingest_report.json
    pushed_version: Optional[str]  # None: not pushed
    pushed_to: Optional[str]


def read_rows(folder: str) -> Dict[str, List[Dict[str, bytes]]]:
    """The Evaluator's PNGs by direction, then index, then kind."""
    rows: Dict[str, Dict[int, Dict[str, bytes]]] = {}
    if tf.io.gfile.isdir(folder):
        for name in sorted(tf.io.gfile.listdir(folder)):
            match = ROW_FILE.fullmatch(name)
            if match:
                direction, index, kind = match.group(1), int(match.group(2)), match.group(3)
                with tf.io.gfile.GFile(os.path.join(folder, name), "rb") as file:
                    rows.setdefault(direction, {}).setdefault(index, {})[kind] = file.read()
    return {d: [by_index[i] for i in sorted(by_index)] for d, by_index in rows.items()}


def read_scalars(logdir: str) -> Dict[str, List[tuple]]:
    """{tag: [(step, value), ...]} of the curves the report draws."""
    scalars: Dict[str, List[tuple]] = {}
    if not logdir or not tf.io.gfile.isdir(logdir):
        return scalars
    for name in sorted(tf.io.gfile.listdir(logdir)):
        if "tfevents" not in name:
            continue
        for record in tf.data.TFRecordDataset(os.path.join(logdir, name)).as_numpy_iterator():
            event = tf.compat.v1.Event.FromString(record)
            for value in event.summary.value:
                if value.tag.startswith(CURVE_PREFIXES) and value.HasField("tensor"):
                    number = float(tf.make_ndarray(value.tensor))
                    scalars.setdefault(value.tag, []).append((event.step, number))
    # One point a step: the last written wins (a worker's or a retried step's repeats).
    return {tag: sorted(dict(points).items()) for tag, points in scalars.items()}


def curves_png(scalars: Dict[str, List[tuple]]) -> Optional[bytes]:
    """Losses, learning rate and domain scores against the step, one panel each."""
    if not scalars:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = [
        ("losses", [t for t in scalars if t.startswith("loss/")]),
        ("learning rate", [t for t in scalars if t == "learning_rate"]),
        ("domain score", [t for t in scalars if t.startswith("eval/domain_score")]),
    ]
    panels = [(title, tags) for title, tags in panels if tags]
    figure, axes = pyplot.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for axis, (title, tags) in zip(axes[0], panels):
        for tag in tags:
            steps, values = zip(*scalars[tag])
            axis.plot(steps, values, label=tag.split("/", 1)[-1])
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if len(tags) > 1:
            axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    pyplot.close(figure)
    return buffer.getvalue()


def _img(png: bytes, alt: str, width: Optional[int] = None) -> str:
    size = f' width="{width}"' if width else ""
    encoded = base64.b64encode(png).decode()
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}"{size}>'


def _table(header: List[str], rows: List[List[str]], css: str = "") -> str:
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"


def build_html(inputs: ReportInputs) -> str:
    evaluation = inputs.evaluation
    blessed = evaluation["blessed"]
    verdict = (
        f"BLESSED and pushed as version {inputs.pushed_version} ({html.escape(inputs.pushed_to)})"
        if blessed and inputs.pushed_version
        else "BLESSED (not pushed)"
        if blessed
        else "NOT BLESSED, not pushed: " + html.escape("; ".join(evaluation["failed_checks"]))
    )
    served = evaluation.get("baseline_version")
    sections = [
        f'<h1>CycleGAN run report</h1><p class="verdict {"ok" if blessed else "bad"}">'
        f"{verdict}</p><p>Baseline: "
        + (f"version {served} (the model serving as stable)" if served else "none")
        + "</p>"
    ]

    rows = read_rows(inputs.rows_dir)
    for direction, images in rows.items():
        kinds = [k for k in ROW_KINDS if images and k in images[0]]
        table_rows = [
            [_img(row[k], f"{DIRECTION_LABELS[direction]} {index} {k}", 128) for k in kinds]
            for index, row in enumerate(images)
        ]
        sections.append(
            f"<h2>Test images {DIRECTION_LABELS[direction]}</h2>"
            + _table([KIND_LABELS[k] for k in kinds], table_rows, "images")
        )

    baseline_metrics = evaluation.get("baseline_metrics") or {}
    sections.append(
        "<h2>Metrics</h2>"
        + _table(
            ["metric", "candidate", "served"],
            [
                [html.escape(name), _number(value), _number(baseline_metrics.get(name))]
                for name, value in sorted(evaluation["metrics"].items())
            ],
            "metrics",
        )
    )
    sections.append(
        "<h2>Blessing checks</h2>"
        + _table(
            ["check", "rule", "result"],
            [
                [
                    html.escape(check["metric"]),
                    html.escape(check["rule"]),
                    '<span class="ok">pass</span>'
                    if check["passed"]
                    else f'<span class="bad">FAIL</span> {html.escape(check["failure"])}',
                ]
                for check in evaluation.get("checks", [])
            ],
            "checks",
        )
    )

    curves = curves_png(read_scalars(inputs.tensorboard_dir))
    sections.append(
        "<h2>Training</h2>"
        + (_img(curves, "training curves") if curves else "<p>No TensorBoard scalars found.</p>")
    )

    if inputs.classifier:
        c = inputs.classifier
        sections.append(
            "<h2>Domain classifier</h2><p>Accuracy on the real test images: "
            f"A {_number(c.get('accuracy_a'))}, B {_number(c.get('accuracy_b'))} "
            f"({c.get('test_images_a', '?')} and {c.get('test_images_b', '?')} images)</p>"
        )
    if inputs.ingest:
        splits = list(inputs.ingest.values())
        skipped = [
            [html.escape(split["split"]), html.escape(item["path"]), html.escape(item["reason"])]
            for split in splits
            for item in split.get("skipped", [])
        ]
        sections.append(
            "<h2>Ingest</h2>"
            + _table(
                ["split", "seen", "written", "skipped"],
                [
                    [split["split"], str(split["seen"]), str(split["written"])]
                    + [str(len(split.get("skipped", [])))]
                    for split in splits
                ],
                "ingest",
            )
            + (
                "<h3>Skipped files</h3>" + _table(["split", "file", "reason"], skipped, "skipped")
                if skipped
                else "<p>No file was skipped.</p>"
            )
        )
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in evaluation.get("notes", []))
    sections.append(f"<h2>Notes</h2><ul>{notes}</ul>")
    return PAGE.format(body="\n".join(sections))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>CycleGAN run report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
table.images td {{ padding: 2px; }}
.ok {{ color: #17702f; font-weight: bold; }}
.bad {{ color: #b3261e; font-weight: bold; }}
.verdict {{ font-size: 1.2em; }}
img {{ image-rendering: pixelated; }}
</style></head>
<body>
{body}
</body></html>
"""
