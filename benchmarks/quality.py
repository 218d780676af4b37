"""Translation quality on real data: does the pipeline learn horse -> zebra, and does it
learn it as well in bfloat16?

    python -m benchmarks quality [--data ../shared/data/horse2zebra] [--steps 8000]
        [--evaluate-every 500] [--precision float32 mixed_bfloat16] [--seeds 0 1]

Runs the pipeline's ExampleGen, Preprocess and DomainClassifier components (LocalDagRunner)
on horse2zebra, once, under <output dir>/tfx (a later invocation takes them from TFX's cache,
so every run is scored by the same classifier). Then, for every seed and precision, in turn,
trains the demo preset's CycleGAN as it is (U-Net and PatchGAN with 16 filters, 72 px
random-cropped to 64, batch 1, constant Adam 2e-4) with the Trainer's own loop for a fixed
number of steps, and scores the test splits with the Evaluator's metrics before training and
every `--evaluate-every` steps (the loop's epoch length: with a constant learning rate it
changes nothing else).

Prints, per run, a table of the domain scores and cycle L1 at each point beside what the
untranslated test images score; then the training minutes (wall time less the evaluations)
until horse -> zebra scores 0.5 and 0.7 (the mean of three evaluations in a row). With two
precisions and two seeds or more, a parity table: each run's metrics averaged over its last
quarter of evaluations (one checkpoint's score moves a lot: adversarial training
oscillates). Parity holds for a metric when another precision's mean is worse than the first
precision's (lower domain score, higher cycle L1) by no more than the first precision's runs
differ among themselves (seed to seed); better is parity too, however much. Writes
translations.png and TensorBoard logs (eval/*) per run under
<output dir>/<time>/<precision>-seed<seed>/, and every run's figures to
<output dir>/<time>/runs.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks.ingest import DEFAULT_DATA
from cyclegan import entry
from cyclegan.config import PRECISIONS
from pipeline import cli

COLUMNS = ("domain_score_ab", "domain_score_ba", "cycle_l1_aba", "cycle_l1_bab")
LOWER_IS_BETTER = ("cycle_l1_aba", "cycle_l1_bab")
DOMAIN_TARGETS = (0.5, 0.7)
SMOOTHING = 3  # evaluations averaged for the time to quality


@dataclasses.dataclass
class Run:
    precision: str
    seed: int
    # (step, training minutes so far, metrics) at every evaluation, step 0 first.
    rows: List[Tuple[int, float, Dict[str, float]]]

    @property
    def name(self) -> str:
        return f"{self.precision}, seed {self.seed}"

    def minutes_to(self, target: float) -> Optional[float]:
        """Training minutes until domain_score_ab, averaged over SMOOTHING evaluations in a
        row, first reaches `target` (None: never). One evaluation alone swings by 0.2-0.4
        from the next: adversarial training oscillates."""
        trained = self.rows[1:]
        for end in range(SMOOTHING, len(trained) + 1):
            window = trained[end - SMOOTHING : end]
            if statistics.mean(v["domain_score_ab"] for _, _, v in window) >= target:
                return window[-1][1]
        return None

    def late_mean(self, column: str) -> float:
        """The mean over the last quarter of the evaluations after step 0 (at least one)."""
        trained = self.rows[1:]
        late = trained[-max(1, len(trained) // 4) :]
        return statistics.mean(values[column] for _, _, values in late)

    @property
    def ms_per_step(self) -> float:
        step, minutes, _ = self.rows[-1]
        return minutes * 60_000 / step


def run_components(data: str, config, root: str) -> Tuple[str, str]:
    """ExampleGen, Preprocess and DomainClassifier as in the pipeline; their artifact dirs."""
    from tfx import v1 as tfx

    from pipeline import data_source
    from pipeline.pipeline import data_steps

    steps = data_steps(data_source.parse(data, None), config)
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="bench_quality",
            pipeline_root=root,
            components=list(steps),
            enable_cache=True,
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                os.path.join(root, "metadata.sqlite")
            ),
        )
    )
    # The newest outputs: earlier invocations' stay beside them.
    (preprocessed, classifier_dir) = (
        max(glob.glob(os.path.join(root, step, output, "*")), key=os.path.getmtime)
        for step, output in (("Preprocess", "preprocessed"), ("DomainClassifier", "model"))
    )
    return preprocessed, classifier_dir


def format_table(rows: List[Tuple[int, float, Dict[str, float]]], epoch_steps: int) -> str:
    """epoch_steps: the steps of one pass over the larger domain."""
    lines = [f"{'step':>7}{'epochs':>7}{'minutes':>9}" + "".join(f"{c:>17}" for c in COLUMNS)]
    untranslated = rows[0][2]
    lines.append(
        f"{'untranslated':>23}"
        + "".join(
            f"{untranslated.get(c + '_untranslated', float('nan')):>17.3f}"
            if c.startswith("domain")
            else f"{'-':>17}"
            for c in COLUMNS
        )
    )
    for step, minutes, values in rows:
        lines.append(
            f"{step:>7}{step / epoch_steps:>7.1f}{minutes:>9.1f}"
            + "".join(f"{values[c]:>17.3f}" for c in COLUMNS)
        )
    return "\n".join(lines)


def format_time_to_quality(runs: Sequence[Run]) -> str:
    """Per run: ms per training step and the minutes to each domain-score target."""
    lines = [
        f"{'run':<26}{'ms/step':>9}"
        + "".join(f"{'min to ' + format(t, '.1f'):>12}" for t in DOMAIN_TARGETS)
    ]
    for run in runs:
        reached = (run.minutes_to(target) for target in DOMAIN_TARGETS)
        lines.append(
            f"{run.name:<26}{run.ms_per_step:>9.1f}"
            + "".join(f"{'not reached' if m is None else format(m, '.1f'):>12}" for m in reached)
        )
    return "\n".join(lines)


def parity(runs: Sequence[Run]) -> Tuple[str, bool]:
    """The parity table and whether every metric holds (see the module's docstring)."""
    precisions = list(dict.fromkeys(run.precision for run in runs))
    reference, others = precisions[0], precisions[1:]
    by_precision = {p: [run for run in runs if run.precision == p] for p in precisions}
    lines = [f"{'run':<26}" + "".join(f"{c:>17}" for c in COLUMNS)]
    for run in runs:
        lines.append(f"{run.name:<26}" + "".join(f"{run.late_mean(c):>17.3f}" for c in COLUMNS))
    holds = True
    means = {
        p: {c: statistics.mean(run.late_mean(c) for run in group) for c in COLUMNS}
        for p, group in by_precision.items()
    }
    spread = {
        c: max(run.late_mean(c) for run in by_precision[reference])
        - min(run.late_mean(c) for run in by_precision[reference])
        for c in COLUMNS
    }
    for p in precisions:
        lines.append(f"{p + ' mean':<26}" + "".join(f"{means[p][c]:>17.3f}" for c in COLUMNS))
    lines.append(f"{reference + ' spread':<26}" + "".join(f"{spread[c]:>17.3f}" for c in COLUMNS))
    for p in others:
        verdicts = []
        for c in COLUMNS:
            worse_by = means[p][c] - means[reference][c]
            worse_by = worse_by if c in LOWER_IS_BETTER else -worse_by
            verdicts.append("ok" if worse_by <= spread[c] else f"OUT {worse_by:.3f}")
            holds = holds and worse_by <= spread[c]
        lines.append(f"{p + ' no worse?':<26}" + "".join(f"{v:>17}" for v in verdicts))
    return "\n".join(lines), holds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help="horse2zebra's trainA/trainB/testA/testB folder (default: "
        "../shared/data/horse2zebra beside the repository)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=8000,
        help="the training budget of each run, in steps of batch 1 (~12 minutes a run on 2 "
        "CPU cores)",
    )
    parser.add_argument("--evaluate-every", type=int, default=500)
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["float32"],
        choices=[p for p in PRECISIONS if p != "auto"],
        help="train once per precision (per seed); the first is the parity reference",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="train.seed of the runs")
    parser.add_argument("--output-dir", default="runs/bench_quality")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        raise SystemExit(
            f"error: no horse2zebra at {os.path.abspath(args.data)}; this "
            f"benchmark needs its trainA/ trainB/ testA/ testB/ folders: pass "
            f"--data DIR"
        )
    if args.steps % args.evaluate_every:
        raise SystemExit("error: --steps must be a multiple of --evaluate-every")
    entry.prepare_process()
    cli.configure_logging(verbose=False)

    from tfx.utils import path_utils

    from cyclegan import data_contract, domain_classifier, input_pipeline, metrics, train
    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    base = preset("demo").replace(
        steps_per_epoch=args.evaluate_every, epochs=args.steps // args.evaluate_every, grid_images=8
    )
    output_dir = os.path.abspath(args.output_dir)
    run_dir = os.path.join(output_dir, time.strftime("%Y%m%d-%H%M%S"))
    preprocessed, classifier_dir = run_components(
        os.path.abspath(args.data), base, os.path.join(output_dir, "tfx")
    )
    score = domain_classifier.load(path_utils.serving_model_path(classifier_dir))
    classifier = domain_classifier.read_report(classifier_dir)
    splits = {
        split: data_contract.split_files(preprocessed, split) for split in data_contract.SPLITS
    }
    test = input_pipeline.read_test_set(splits["testA"], splits["testB"], base.data.crop_size)
    epoch_steps = (
        max(input_pipeline.count_records(splits[split]) for split in data_contract.TRAIN_SPLITS)
        // base.train.batch_size
    )

    def evaluate(model: CycleGan) -> Dict[str, float]:
        return metrics.evaluate(
            lambda x: model.g_ab(x, training=False),
            lambda x: model.g_ba(x, training=False),
            test.images_a,
            test.images_b,
            test.sources_a,
            test.sources_b,
            domain_score=score,
        )

    def train_and_score(precision: str, seed: int) -> Run:
        config = base.replace(**{"train.precision": precision, "train.seed": seed})
        # The same seed gives fit() these initial weights: the step-0 row.
        run = Run(precision, seed, [(0, 0.0, evaluate(CycleGan(config)))])
        start, evaluating = time.perf_counter(), 0.0

        def evaluate_and_keep(model: CycleGan) -> Dict[str, float]:
            nonlocal evaluating
            began = time.perf_counter()
            values = evaluate(model)
            training_minutes = (began - start - evaluating) / 60
            evaluating += time.perf_counter() - began
            run.rows.append((int(model.step.numpy()), training_minutes, values))
            return values

        train.fit(
            config,
            splits["trainA"],
            splits["trainB"],
            splits["testA"],
            splits["testB"],
            os.path.join(run_dir, f"{precision}-seed{seed}"),
            evaluate=evaluate_and_keep,
        )
        return run

    print(
        f"horse2zebra, demo preset, {args.steps} steps a run (an epoch is {epoch_steps}); test "
        f"images: {len(test.sources_a)} horses, {len(test.sources_b)} zebras at "
        f"{base.data.crop_size} px\n"
        f"domain classifier ({classifier['image_size']} px, {classifier['train_steps']} steps "
        f"in {classifier['train_seconds']:.0f} s): accuracy on the real test images: horses "
        f"{classifier['accuracy_a']:.3f}, zebras {classifier['accuracy_b']:.3f}",
        flush=True,
    )
    runs = []
    for seed in args.seeds:  # seeds outside: a slow spell of the machine hits every precision
        for precision in args.precision:
            runs.append(train_and_score(precision, seed))
            print(f"\n{runs[-1].name}:\n{format_table(runs[-1].rows, epoch_steps)}", flush=True)
    with open(os.path.join(run_dir, "runs.json"), "w") as file:  # the figures, for later
        json.dump([dataclasses.asdict(run) for run in runs], file, indent=1)
    print(f"\nminutes of training (evaluations excluded):\n{format_time_to_quality(runs)}")
    if len(args.precision) > 1 and len(args.seeds) > 1:
        table, holds = parity(runs)
        print(
            f"\nmean of the last quarter of evaluations:\n{table}\nparity: "
            + ("holds" if holds else "does not hold")
        )
    print(
        f"\ntranslations (PNG) and TensorBoard logs: {run_dir}/<precision>-seed<seed>/\n"
        f"TensorBoard: tensorboard --logdir {run_dir}"
    )
