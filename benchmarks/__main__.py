"""python -m benchmarks [NAME ...]: runs the named benchmarks (default: all)."""

import sys

from benchmarks import ingest, ingest_memory

BENCHMARKS = {"ingest": ingest.main, "ingest_memory": ingest_memory.main}


def main(argv) -> None:
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    flags = [a for a in argv if a.startswith("-")]
    for name in names:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
        print(f"=== {name} ===")
        BENCHMARKS[name](flags)


if __name__ == "__main__":
    main(sys.argv[1:])
