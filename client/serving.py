"""Versions in a TF Serving model directory the Pusher writes: list them, roll back, promote a
canary, prune.

    cyclegan-serving list                            # versions, labels, metrics
    cyclegan-serving rollback --to 1764540000        # `stable` -> that version
    cyclegan-serving promote                         # `stable` -> the `canary` version
    cyclegan-serving prune --keep 3                  # remove old unlabelled versions

Labels live in <base>/models.config, TF Serving's --model_config_file; a server started with
--model_config_file_poll_wait_seconds re-reads it, so a rollback needs no restart. The next
pipeline run's Evaluator takes the `stable` version as its baseline.
"""

from __future__ import annotations

import argparse
import sys
from typing import List

DEFAULT_BASE = "runs/local/serving/cyclegan"
SHOWN_METRICS = ("cycle_l1_aba", "cycle_l1_bab", "domain_score_ab", "domain_score_ba")


def parse_args(argv=None) -> argparse.Namespace:
    from cyclegan.entry import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="cyclegan-serving", description=__doc__, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--base",
        default=DEFAULT_BASE,
        help=f"the serving directory (TF Serving's model base path; default: {DEFAULT_BASE})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="versions with their labels, push time and metrics")
    rollback = commands.add_parser("rollback", help="point `stable` at an earlier version")
    rollback.add_argument("--to", type=int, required=True, metavar="VERSION")
    commands.add_parser("promote", help="point `stable` at the `canary` version")
    prune = commands.add_parser("prune", help="remove all but the newest unlabelled versions")
    prune.add_argument("--keep", type=int, required=True, metavar="N")
    return parser.parse_args(argv)


def list_versions(base: str) -> List[str]:
    from cyclegan import serving_dir

    state = serving_dir.read_state(base)
    labels_of = {}
    for label, number in (state.labels if state else {}).items():
        labels_of.setdefault(number, []).append(label)
    records = serving_dir.read_records(base)
    rows = [("version", "labels", "pushed at", "blessed", *SHOWN_METRICS)]
    for number in reversed(serving_dir.versions(base)):
        record = records.get(number, {})
        metrics = record.get("metrics") or {}
        rows.append(
            (
                str(number),
                ",".join(sorted(labels_of.get(number, []))) or "-",
                record.get("pushed_at", "-"),
                {True: "yes", False: "no"}.get(record.get("blessed"), "-"),
                *(f"{metrics[name]:.4f}" if name in metrics else "-" for name in SHOWN_METRICS),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]


def main(argv=None) -> int:
    args = parse_args(argv)
    from cyclegan import entry

    entry.prepare_process()
    import tensorflow as tf

    from cyclegan import serving_dir

    if not tf.io.gfile.isdir(args.base):
        print(f"error: no serving directory {args.base}", file=sys.stderr)
        return 2
    try:
        with serving_dir.push_lock(args.base):  # not in the middle of a push
            return _command(args, serving_dir)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace, serving_dir) -> int:
    """The subcommand; under the directory's lock."""
    if args.command == "list":
        print("\n".join(list_versions(args.base)))
        if serving_dir.read_state(args.base) is None:
            print(f"(no {serving_dir.MODEL_CONFIG_FILE}: TF Serving serves the newest)")
    elif args.command == "rollback":
        state = serving_dir.move_label(args.base, serving_dir.STABLE, args.to)
        print(f"stable -> {args.to} ({state.model_name}, {args.base}/models.config)")
    elif args.command == "promote":
        state = serving_dir.read_state(args.base)
        if not state or serving_dir.CANARY not in state.labels:
            print("error: no version is labelled canary", file=sys.stderr)
            return 2
        number = state.labels[serving_dir.CANARY]
        serving_dir.move_label(args.base, serving_dir.STABLE, number)
        serving_dir.move_label(args.base, serving_dir.CANARY, None)
        print(f"stable -> {number} (canary label removed)")
    else:
        if args.keep < 1:
            print("error: --keep must be at least 1", file=sys.stderr)
            return 2
        removed = serving_dir.prune(args.base, args.keep)
        print(f"removed versions {removed}" if removed else "nothing to remove")
    return 0


if __name__ == "__main__":
    sys.exit(main())
