"""Evaluation metrics for a pair of generators, and the blessing decision. Plain TensorFlow.

Metrics (lower is better unless said otherwise), images in [-1, 1]:
  cycle_l1_aba / cycle_l1_bab       mean |A - F(G(A))|, mean |B - G(F(B))|
  identity_l1_a / identity_l1_b     mean |A - F(A)|, mean |B - G(B)|
  ground_truth_l1_ab / _ba          mean |G(A_i) - B_i| and |F(B_i) - A_i| where test images
                                    pair up by name (the synthetic set): the known answer
  output_spread_ab / _ba            (higher is better) the per-pixel standard deviation of the
                                    translations across images: near 0 means collapse
  fid_ab / fid_ba                   Frechet distance between InceptionV3 pool features of
                                    translations and of real target-domain images
  kid_ab / kid_ba (+ _std)          Kernel Inception Distance of the same features: mean (and
                                    standard deviation) over random subsets
  domain_score_ab / _ba             (higher is better) mean probability, by a domain
                                    classifier, that G(A) is a B image / that F(B) is an A image
  domain_score_ab_untranslated / _ba_untranslated   the same for the test images as they
                                    are: what doing nothing scores (the same for every model)
"""

from __future__ import annotations

import math
import os
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

LOWER_IS_BETTER = (
    "cycle_l1_aba",
    "cycle_l1_bab",
    "identity_l1_a",
    "identity_l1_b",
    "ground_truth_l1_ab",
    "ground_truth_l1_ba",
    "fid_ab",
    "fid_ba",
)
DOMAIN_SCORES = ("domain_score_ab", "domain_score_ba")
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
DEFAULT_INCEPTION_WEIGHTS = os.path.join(
    os.path.expanduser("~"), ".keras", "models", INCEPTION_WEIGHTS_FILE
)

Translate = Callable[[tf.Tensor], tf.Tensor]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2), from samples (rows)."""
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    sigma_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    sigma_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    # Tr((S_a S_b)^1/2) = sum of sqrt of the eigenvalues of S_a^1/2 S_b S_a^1/2 (symmetric).
    values, vectors = np.linalg.eigh(sigma_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ sigma_b @ root_a)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(
        np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_sqrt
    )


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> Tuple[float, float]:
    """KID (Binkowski et al., 2018): the unbiased estimate of the squared MMD between two
    samples (rows) under the kernel k(x, y) = (x.y / d + 1)^3, over `subsets` random subsets
    of min(subset_size, n_a, n_b) rows of each, drawn without replacement. Returns (mean,
    standard deviation over the subsets). Unbiased at any sample size, which FID is not."""
    size = min(subset_size, len(features_a), len(features_b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 rows in each set, got {size}")
    rng = np.random.default_rng(seed)
    dimensions = features_a.shape[1]

    def kernel(x, y):
        return (x @ y.T / dimensions + 1.0) ** 3

    def within(k):  # mean over pairs i != j: the diagonal would bias the estimate upwards
        return (k.sum() - np.trace(k)) / (size * (size - 1))

    values = []
    for _ in range(subsets):
        x = features_a[rng.choice(len(features_a), size, replace=False)]
        y = features_b[rng.choice(len(features_b), size, replace=False)]
        values.append(within(kernel(x, x)) + within(kernel(y, y)) - 2.0 * kernel(x, y).mean())
    return float(np.mean(values)), float(np.std(values))


def inception_features(weights_path: Optional[str]) -> Tuple[Optional[Callable], str]:
    """(images in [-1, 1] -> 2048-d pool features, None when unavailable; a note saying
    which weights were used or why FID is skipped)."""
    import tf_keras as keras

    path = weights_path or DEFAULT_INCEPTION_WEIGHTS
    if not tf.io.gfile.exists(path):
        return None, (
            f"FID skipped: no InceptionV3 weights at {path} (pass "
            f"--inception-weights PATH to {INCEPTION_WEIGHTS_FILE}, or place it in "
            f"the Keras cache); KID too"
        )
    model = keras.applications.InceptionV3(
        include_top=False, weights=None, pooling="avg", input_shape=(299, 299, 3)
    )
    model.load_weights(path)

    def features(images: tf.Tensor) -> tf.Tensor:
        # InceptionV3 takes [-1, 1] inputs, as our images are; only the size changes.
        return model(tf.image.resize(images, [299, 299], "bilinear"), training=False)

    return features, f"FID and KID from InceptionV3 weights {path}"


def _pairs(sources_a: Sequence[str], sources_b: Sequence[str]) -> List[Tuple[int, int]]:
    """Index pairs of test images that share a name across domains (testA/x <-> testB/x)."""

    def key(source: str) -> str:
        return source.replace("testA", "test").replace("testB", "test")

    index_b = {key(s): i for i, s in enumerate(sources_b)}
    return [(i, index_b[key(s)]) for i, s in enumerate(sources_a) if key(s) in index_b]


def batched(function: Translate, images: tf.Tensor, batch_size: int = 8) -> tf.Tensor:
    """function over images in batches (bounded memory), concatenated."""
    return tf.concat(
        [function(images[i : i + batch_size]) for i in range(0, int(images.shape[0]), batch_size)],
        0,
    )


def evaluate(
    translate_ab: Translate,
    translate_ba: Translate,
    images_a: tf.Tensor,
    images_b: tf.Tensor,
    sources_a: Sequence[str],
    sources_b: Sequence[str],
    features: Optional[Callable] = None,
    domain_score: Optional[Translate] = None,
    batch_size: int = 8,
) -> Dict[str, float]:
    """Every metric above, from test images of both domains (float [-1, 1]). features: the
    InceptionV3 pool (FID, KID); domain_score: images -> P(B) (domain scores)."""

    def run(translate, images):
        return batched(translate, images, batch_size)

    fake_b, fake_a = run(translate_ab, images_a), run(translate_ba, images_b)
    metrics = {
        "cycle_l1_aba": float(tf.reduce_mean(tf.abs(images_a - run(translate_ba, fake_b)))),
        "cycle_l1_bab": float(tf.reduce_mean(tf.abs(images_b - run(translate_ab, fake_a)))),
        "identity_l1_a": float(tf.reduce_mean(tf.abs(images_a - run(translate_ba, images_a)))),
        "identity_l1_b": float(tf.reduce_mean(tf.abs(images_b - run(translate_ab, images_b)))),
        "output_spread_ab": float(tf.reduce_mean(tf.math.reduce_std(fake_b, axis=0))),
        "output_spread_ba": float(tf.reduce_mean(tf.math.reduce_std(fake_a, axis=0))),
    }
    pairs = _pairs(sources_a, sources_b)
    if pairs:
        index_a, index_b = (list(i) for i in zip(*pairs))
        metrics["ground_truth_l1_ab"] = float(
            tf.reduce_mean(tf.abs(tf.gather(fake_b, index_a) - tf.gather(images_b, index_b)))
        )
        metrics["ground_truth_l1_ba"] = float(
            tf.reduce_mean(tf.abs(tf.gather(fake_a, index_b) - tf.gather(images_a, index_a)))
        )
    if features is not None:

        def pool(images):
            return run(features, images).numpy().astype(np.float64)

        for direction, fake, real in (("ab", fake_b, images_b), ("ba", fake_a, images_a)):
            fake_features, real_features = pool(fake), pool(real)
            metrics[f"fid_{direction}"] = frechet_distance(fake_features, real_features)
            metrics[f"kid_{direction}"], metrics[f"kid_{direction}_std"] = (
                kernel_inception_distance(fake_features, real_features)
            )
    if domain_score is not None:

        def probability_b(images):
            return float(tf.reduce_mean(run(domain_score, images)))

        metrics["domain_score_ab"] = probability_b(fake_b)
        metrics["domain_score_ba"] = 1.0 - probability_b(fake_a)
        metrics["domain_score_ab_untranslated"] = probability_b(images_a)
        metrics["domain_score_ba_untranslated"] = 1.0 - probability_b(images_b)
    return metrics


class Check(NamedTuple):
    """One blessing check: what it compares, the rule, and whether the model passes."""

    metric: str
    rule: str  # e.g. "<= 1.0", ">= 0.5", "not worse than the baseline's 0.1234 by > 10%"
    passed: bool
    failure: str  # why the model fails it ("" when it passes)


def blessing_checks(
    metrics: Dict[str, float],
    max_cycle_l1: float,
    min_output_spread: float,
    baseline: Optional[Dict[str, float]] = None,
    baseline_margin: float = 0.1,
    min_domain_score: Optional[float] = None,
) -> List[Check]:
    """Every check a model must pass to be served. min_domain_score: None when the domain
    scores must not count (no classifier, or one too inaccurate to trust)."""
    not_finite = [name for name, value in sorted(metrics.items()) if not math.isfinite(value)]
    checks = [
        Check(
            "all metrics",
            "finite",
            not not_finite,
            "; ".join(f"{name} is {metrics[name]}, not finite" for name in not_finite),
        )
    ]
    for name in ("output_spread_ab", "output_spread_ba"):
        passed = metrics[name] >= min_output_spread
        checks.append(
            Check(
                name,
                f">= {min_output_spread}",
                passed,
                ""
                if passed
                else f"{name} {metrics[name]:.4f} < {min_output_spread}: the outputs "
                f"barely vary across images (collapse)",
            )
        )
    for name in ("cycle_l1_aba", "cycle_l1_bab"):
        passed = metrics[name] <= max_cycle_l1
        checks.append(
            Check(
                name,
                f"<= {max_cycle_l1}",
                passed,
                "" if passed else f"{name} {metrics[name]:.4f} > threshold {max_cycle_l1}",
            )
        )
    domain_scores = DOMAIN_SCORES if min_domain_score is not None else ()
    for name in domain_scores:
        passed = metrics[name] >= min_domain_score
        target = "B" if name.endswith("ab") else "A"
        checks.append(
            Check(
                name,
                f">= {min_domain_score}",
                passed,
                ""
                if passed
                else f"{name} {metrics[name]:.4f} < {min_domain_score}: the domain "
                f"classifier does not see the translations as domain {target}",
            )
        )
    for name in LOWER_IS_BETTER + domain_scores:
        if baseline and name in metrics and name in baseline:
            if name in domain_scores:  # higher is better
                worse = metrics[name] < baseline[name] * (1.0 - baseline_margin)
            else:
                worse = metrics[name] > baseline[name] * (1.0 + baseline_margin)
            checks.append(
                Check(
                    name,
                    f"not worse than the baseline's {baseline[name]:.4f} by more than "
                    f"{baseline_margin:.0%}",
                    not worse,
                    f"{name} {metrics[name]:.4f} is worse than the blessed "
                    f"baseline's {baseline[name]:.4f} by more than {baseline_margin:.0%}"
                    if worse
                    else "",
                )
            )
    return checks


def format_table(metrics: Dict[str, float], baseline: Optional[Dict[str, float]]) -> str:
    width = max(len(name) for name in metrics) + 2
    lines = [f"  {'metric':<{width}}{'model':>10}{'baseline':>10}"]
    for name, value in sorted(metrics.items()):
        base = f"{baseline[name]:>10.4f}" if baseline and name in baseline else f"{'-':>10}"
        lines.append(f"  {name:<{width}}{value:>10.4f}{base}")
    return "\n".join(lines)
