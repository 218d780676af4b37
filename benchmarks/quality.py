"""Translation quality on real data: does the pipeline learn horse -> zebra?

    python -m benchmarks quality [--data ../shared/data/horse2zebra] [--steps 8000]
                                 [--evaluate-every 1000]

Runs the pipeline's ExampleGen, Preprocess and DomainClassifier components (LocalDagRunner)
on horse2zebra, then trains the demo preset's CycleGAN as it is (U-Net and PatchGAN with 16
filters, 72 px random-cropped to 64, batch 1, constant Adam 2e-4) with the Trainer's own
loop on the CPU for a fixed number of steps, and scores the test splits with the
Evaluator's metrics before training and every `--evaluate-every` steps (the loop's epoch
length: with a constant learning rate it changes nothing else). Prints a table of the domain
scores and cycle L1 at each point, beside what the untranslated test images score, with the
classifier's accuracy; writes translations.png and TensorBoard logs (eval/*) under
<output dir>/<time>/.
"""

from __future__ import annotations

import argparse
import glob
import os
import time
from typing import Dict, List, Tuple

from benchmarks.ingest import DEFAULT_DATA
from cyclegan import entry
from pipeline import cli

COLUMNS = ("domain_score_ab", "domain_score_ba", "cycle_l1_aba", "cycle_l1_bab")


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
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                os.path.join(root, "metadata.sqlite")
            ),
        )
    )
    (preprocessed,) = glob.glob(os.path.join(root, "Preprocess", "preprocessed", "*"))
    (classifier_dir,) = glob.glob(os.path.join(root, "DomainClassifier", "model", "*"))
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
        help="the training budget, in steps of batch 1 (~15 minutes for the "
        "whole benchmark on 2 CPU cores)",
    )
    parser.add_argument("--evaluate-every", type=int, default=1000)
    parser.add_argument("--output-dir", default="runs/bench_quality")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        raise SystemExit(
            f"error: no horse2zebra at {os.path.abspath(args.data)}; this "
            f"benchmark needs its trainA/ trainB/ testA/ testB/ folders: pass "
            f"--data DIR"
        )
    entry.prepare_process()
    cli.configure_logging(verbose=False)

    from tfx.utils import path_utils

    from cyclegan import data_contract, domain_classifier, input_pipeline, metrics, train
    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    if args.steps % args.evaluate_every:
        raise SystemExit("error: --steps must be a multiple of --evaluate-every")
    config = preset("demo").replace(
        steps_per_epoch=args.evaluate_every, epochs=args.steps // args.evaluate_every, grid_images=8
    )
    run_dir = os.path.abspath(os.path.join(args.output_dir, time.strftime("%Y%m%d-%H%M%S")))
    preprocessed, classifier_dir = run_components(
        os.path.abspath(args.data), config, os.path.join(run_dir, "tfx")
    )
    score = domain_classifier.load(path_utils.serving_model_path(classifier_dir))
    classifier = domain_classifier.read_report(classifier_dir)
    splits = {
        split: data_contract.split_files(preprocessed, split) for split in data_contract.SPLITS
    }
    test = input_pipeline.read_test_set(splits["testA"], splits["testB"], config.data.crop_size)

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

    # The same seed gives fit() these initial weights: the step-0 row.
    rows = [(0, 0.0, evaluate(CycleGan(config)))]
    start = time.time()

    def evaluate_and_keep(model: CycleGan) -> Dict[str, float]:
        values = evaluate(model)
        rows.append((int(model.step.numpy()), (time.time() - start) / 60, values))
        return values

    train.fit(
        config,
        splits["trainA"],
        splits["trainB"],
        splits["testA"],
        splits["testB"],
        run_dir,
        evaluate=evaluate_and_keep,
    )
    epoch_steps = (
        max(input_pipeline.count_records(splits[split]) for split in data_contract.TRAIN_SPLITS)
        // config.train.batch_size
    )
    print(
        f"\nhorse2zebra, demo preset, {args.steps} steps (an epoch is {epoch_steps}); test "
        f"images: {len(test.sources_a)} horses, {len(test.sources_b)} zebras at "
        f"{config.data.crop_size} px"
    )
    print(
        f"domain classifier ({classifier['image_size']} px, {classifier['train_steps']} steps "
        f"in {classifier['train_seconds']:.0f} s): accuracy on the real test images: horses "
        f"{classifier['accuracy_a']:.3f}, zebras {classifier['accuracy_b']:.3f}\n"
    )
    print(format_table(rows, epoch_steps))
    print(
        f"\ntranslations (PNG): {os.path.join(run_dir, 'translations.png')}\n"
        f"TensorBoard:        tensorboard --logdir {os.path.join(run_dir, 'logs')}"
    )
