"""train.precision=auto: the precision this machine trains fastest in without losing quality.

- GPUs of compute capability 8.0 and up (A100, L4, H100, RTX 30xx/40xx) compute in bfloat16
  at float16's rate, without loss scaling: mixed_bfloat16;
- GPUs 7.x (V100, T4) have float16 tensor cores but no bfloat16 ones: mixed_float16, with
  dynamic loss scaling (model.py);
- older GPUs: float32;
- CPUs with AVX512_BF16 and no AMX (oneDNN runs bfloat16 convolutions and products on them at
  about twice the float32 rate): mixed_bfloat16;
- CPUs with AMX: float32. oneDNN computes bfloat16 on AMX's tiles there (2-3.7x float32's
  speed), but on horse2zebra those runs missed quality parity on one metric (cycle L1 B->A
  worse than float32's by more than float32's own seed-to-seed spread; `python -m benchmarks
  quality`), so bfloat16 stays a choice the user makes (train.precision=mixed_bfloat16);
- any other CPU: float32 (bfloat16 would be emulated, slower than float32).

Training on GPUs when any is visible, the lowest capability among them decides. Mixed
precision keeps the variables, instance-norm statistics, losses and the networks' outputs in
float32 (networks.py), and the export serves in float32 whatever the training ran in.
Quality parity of bfloat16 on horse2zebra is measured by `python -m benchmarks quality`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterable, Sequence, Tuple

AUTO = "auto"
# CPU flags (Linux /proc/cpuinfo names) under which oneDNN computes in bfloat16 natively.
AMX_BFLOAT16_FLAG = "amx_bf16"
BFLOAT16_CPU_FLAGS = ("avx512_bf16", AMX_BFLOAT16_FLAG)


@dataclasses.dataclass(frozen=True)
class Choice:
    policy: str  # a Keras mixed-precision policy name
    reason: str


def choose(cpu_flags: Iterable[str], gpu_capabilities: Sequence[Tuple[int, int]]) -> Choice:
    """What `auto` means on a machine with these CPU flags and these GPUs' compute
    capabilities ((major, minor) each; none: training on the CPU)."""
    if gpu_capabilities:
        lowest = min(gpu_capabilities)
        named = f"compute capability {lowest[0]}.{lowest[1]}"
        if lowest >= (8, 0):
            return Choice("mixed_bfloat16", f"the GPUs ({named}) compute in bfloat16")
        if lowest >= (7, 0):
            return Choice(
                "mixed_float16",
                f"the GPUs ({named}) compute in float16, not bfloat16; losses are scaled",
            )
        return Choice("float32", f"the GPUs ({named}) have no fast half precision")
    found = sorted(set(cpu_flags) & set(BFLOAT16_CPU_FLAGS))
    if AMX_BFLOAT16_FLAG in found:
        return Choice(
            "float32",
            "no GPU; the CPU computes bfloat16 on AMX, which missed quality parity on "
            "horse2zebra; pin train.precision=mixed_bfloat16 for ~2x the speed",
        )
    if found:
        return Choice(
            "mixed_bfloat16", f"no GPU; the CPU computes in bfloat16 ({', '.join(found)})"
        )
    return Choice("float32", "no GPU; the CPU has neither AVX512_BF16 nor AMX")


def _cpuinfo_field(name: str, cpuinfo: str) -> str:
    """The first `name` line's value in /proc/cpuinfo ('' where the file or line is missing)."""
    try:
        with open(cpuinfo) as file:
            for line in file:
                if line.split(":", 1)[0].strip() == name:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags as Linux names them (empty where /proc/cpuinfo is missing)."""
    return frozenset(_cpuinfo_field("flags", cpuinfo).split())


def cpu_description(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model and the vector and bfloat16 units that decide a step's speed, e.g.
    'AMD EPYC; AVX-512: yes; bfloat16: avx512_bf16' (benchmark figures depend on them)."""
    flags = cpu_flags(cpuinfo)
    bfloat16 = ", ".join(sorted(flags & set(BFLOAT16_CPU_FLAGS))) or "none (emulated)"
    return (
        f"{_cpuinfo_field('model name', cpuinfo) or 'unknown CPU'}; "
        f"AVX-512: {'yes' if 'avx512f' in flags else 'no'}; bfloat16: {bfloat16}"
    )


def gpu_capabilities() -> Tuple[Tuple[int, int], ...]:
    import tensorflow as tf

    details = (
        tf.config.experimental.get_device_details(gpu)
        for gpu in tf.config.list_physical_devices("GPU")
    )
    return tuple(tuple(d.get("compute_capability") or (0, 0)) for d in details)


@functools.lru_cache(maxsize=None)
def _detected() -> Choice:
    return choose(cpu_flags(), gpu_capabilities())


def resolve(precision: str) -> Choice:
    """The Keras policy for train.precision: `auto` as this machine's choice, any other
    value as it is (the user pinned it)."""
    if precision == AUTO:
        return _detected()
    return Choice(precision, "set in the config")
