"""Translate image files with a pushed CycleGAN generator.

    python -m client.translate horse.jpg --output out/ --model-dir runs/local/serving/cyclegan
    python -m client.translate photos/ --output out/ --grpc localhost:8500 --direction b_to_a
    python -m client.translate photos/ --output out/ --rest http://localhost:8501

Each input gets <output>/<name>.png. A folder is translated file by file, with a progress bar
on a terminal (elsewhere a line per file); a file that fails is reported and the rest are
still done (exit code 1 if any failed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def parse_args(argv=None) -> argparse.Namespace:
    from cyclegan.entry import HelpFormatter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("input", help="an image file, or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the translated PNGs")
    parser.add_argument(
        "--direction",
        default="a_to_b",
        choices=["a_to_b", "b_to_a"],
        help="a_to_b (e.g. horse -> zebra) or b_to_a (default: a_to_b)",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--model-dir",
        help="a SavedModel, or a TF Serving base directory (the version labelled stable, or "
        "the newest when there are no labels)",
    )
    where.add_argument("--grpc", metavar="HOST:PORT", help="TF Serving's gRPC address")
    where.add_argument(
        "--rest", metavar="URL", help="TF Serving's REST address, e.g. http://localhost:8501"
    )
    parser.add_argument(
        "--model-name",
        default="cyclegan",
        help="the model name TF Serving serves (default: cyclegan)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--version",
        type=int,
        help="a model version (default: the stable one; a server: its newest)",
    )
    which.add_argument("--label", help="a version label, e.g. stable or canary")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per request to a server (default: 60)"
    )
    return parser.parse_args(argv)


def _terminal() -> bool:
    return sys.stderr.isatty()


def list_inputs(path: str) -> List[str]:
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise SystemExit(f"error: {path!r} does not exist")
    files = sorted(
        os.path.join(path, name)
        for name in os.listdir(path)
        if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
    )
    if not files:
        raise SystemExit(f"error: no images ({', '.join(IMAGE_EXTENSIONS)}) in {path!r}")
    return files


def make_backend(args: argparse.Namespace):
    from client import backends

    if args.model_dir:
        return backends.LocalBackend(args.model_dir, args.version, args.label)
    if args.grpc:
        return backends.GrpcBackend(
            args.grpc, args.model_name, args.timeout, args.version, args.label
        )
    return backends.RestBackend(args.rest, args.model_name, args.timeout, args.version, args.label)


def main(argv=None) -> int:
    args = parse_args(argv)
    from cyclegan import entry

    entry.prepare_process()
    from tqdm import tqdm

    from client.backends import TranslationError

    inputs = list_inputs(args.input)
    try:
        backend = make_backend(args)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    os.makedirs(args.output, exist_ok=True)
    failures, start = [], time.monotonic()
    # On a terminal a bar (and failures above it); otherwise a line per file, for logs.
    bar = tqdm(total=len(inputs), unit="image", dynamic_ncols=True, disable=not _terminal())
    for index, path in enumerate(inputs, 1):
        target = os.path.join(args.output, os.path.splitext(os.path.basename(path))[0] + ".png")
        try:
            with open(path, "rb") as file:
                (png,) = backend.translate([file.read()], args.direction)
            with open(target, "wb") as file:
                file.write(png)
            status = f"-> {target}"
        except (TranslationError, OSError) as error:
            failures.append((path, str(error)))
            status = f"FAILED: {error}"
        elapsed = time.monotonic() - start
        eta = elapsed / index * (len(inputs) - index)
        if not bar.disable:
            bar.update()
            if status.startswith("FAILED"):
                bar.write(f"{path} {status}")
        else:
            print(f"[{index}/{len(inputs)}] {path} {status}  (ETA {eta:.0f}s)", flush=True)
    bar.close()
    print(
        f"{len(inputs) - len(failures)} translated, {len(failures)} failed; PNGs in {args.output}"
    )
    for path, reason in failures:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
