"""python -m benchmarks [NAME ...] [FLAGS]: runs the named benchmarks (default: all); the
flags go to each of them."""

import sys

from benchmarks import (
    fit,
    ingest,
    ingest_memory,
    profile_step,
    quality,
    roofline,
    serving_latency,
    serving_warmup,
    train_step,
)

BENCHMARKS = {
    "ingest": ingest.main,
    "ingest_memory": ingest_memory.main,
    "train_step": train_step.main,
    "profile_step": profile_step.main,
    "fit": fit.main,
    "serving_latency": serving_latency.main,
    "serving_warmup": serving_warmup.main,
    "quality": quality.main,
    "roofline": roofline.main,
}


def main(argv) -> None:
    first_flag = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, flags = argv[:first_flag] or list(BENCHMARKS), argv[first_flag:]
    for name in names:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
        print(
            f"=== {name} ===\ncommand: python -m benchmarks {' '.join([name, *flags])}", flush=True
        )
        BENCHMARKS[name](flags)


if __name__ == "__main__":
    main(sys.argv[1:])
