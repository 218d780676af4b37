import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from cyclegan import metrics


def _failures(*args, **kwargs):
    """Why blessing_checks() would not let the model be served."""
    return [c.failure for c in metrics.blessing_checks(*args, **kwargs) if not c.passed]


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (20000, 2))
    b = rng.normal([3.0, 0.0], [2.0, 1.0], (20000, 2))
    # |mu|^2 + sum (s_a - s_b)^2 for diagonal covariances: 9 + (1 - 2)^2 + 0 = 10.
    assert metrics.frechet_distance(a, b) == pytest.approx(10.0, rel=0.05)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    features, other = rng.normal(0.0, 1.0, (400, 16)), rng.normal(0.0, 1.0, (400, 16))
    shifted = [
        metrics.kernel_inception_distance(features, other + shift)[0] for shift in (0.25, 0.5, 1.0)
    ]
    assert 0 < shifted[0] < shifted[1] < shifted[2]
    # Another sample of the same distribution: ~0, as an unbiased estimate must be. The
    # same rows on both sides: slightly negative, as each row meets itself only across.
    assert abs(metrics.kernel_inception_distance(features, other)[0]) < 0.05 * shifted[0]
    assert -0.2 * shifted[0] < metrics.kernel_inception_distance(features, features)[0] <= 0
    # Subsets of 100 of the 400 rows: the smallest shift still stands out from their spread.
    mean, std = metrics.kernel_inception_distance(features, other + 0.25, subset_size=100)
    assert mean > 3 * std > 0


def test_kid_is_unbiased_on_two_samples():
    """Samples of 2 rows from uniform {0, 1} (P) and uniform {1, 2} (Q), 1-d features. With
    k(x, y) = (xy + 1)^3, MMD^2 = sum_j C(3, j) (E_P x^j - E_Q x^j)^2
    = (0.5 - 4.5)^2 + 3 (0.5 - 2.5)^2 + 3 (0.5 - 1.5)^2 = 31. KID averaged over all 16
    equally likely sample pairs is exactly that (a biased estimate would not be); for P
    against P it is exactly 0, though single estimates are not."""
    samples = {
        "P": [np.array([[x], [y]], float) for x in (0, 1) for y in (0, 1)],
        "Q": [np.array([[x], [y]], float) for x in (1, 2) for y in (1, 2)],
    }

    def mean_kid(first, second):
        values = [
            metrics.kernel_inception_distance(a, b, subsets=1)[0]
            for a in samples[first]
            for b in samples[second]
        ]
        return np.mean(values), values

    assert mean_kid("P", "Q")[0] == pytest.approx(31.0)
    mean, values = mean_kid("P", "P")
    assert mean == pytest.approx(0.0, abs=1e-12) and max(np.abs(values)) > 1.0


def _images(seed, n=4):
    return tf.random.stateless_uniform([n, 8, 8, 3], [seed, 0], -1, 1)


def test_metrics_of_known_translators():
    a, b = _images(1), _images(2)
    names_a = [f"synthetic/testA/{i:06d}.png" for i in range(4)]
    names_b = [f"synthetic/testB/{i:06d}.png" for i in range(4)]
    identity = metrics.evaluate(lambda x: x, lambda x: x, a, b, names_a, names_b)
    assert identity["cycle_l1_aba"] == identity["identity_l1_a"] == 0.0
    # The identity "translation" of A_i is A_i; its ground truth is B_i.
    assert identity["ground_truth_l1_ab"] == pytest.approx(float(tf.reduce_mean(tf.abs(a - b))))
    constant = metrics.evaluate(tf.zeros_like, tf.zeros_like, a, b, names_a, names_b)
    assert constant["output_spread_ab"] == 0.0
    assert constant["cycle_l1_aba"] == pytest.approx(float(tf.reduce_mean(tf.abs(a))))
    unpaired = metrics.evaluate(lambda x: x, lambda x: x, a, b, ["x"] * 4, ["y"] * 4)
    assert "ground_truth_l1_ab" not in unpaired


def test_blessing_checks_name_what_failed():
    good = {
        "cycle_l1_aba": 0.1,
        "cycle_l1_bab": 0.1,
        "output_spread_ab": 0.3,
        "output_spread_ba": 0.3,
        "identity_l1_a": 0.1,
        "identity_l1_b": 0.1,
    }
    assert _failures(good, 0.5, 0.01) == []
    assert "not finite" in _failures(dict(good, identity_l1_a=float("nan")), 0.5, 0.01)[0]
    assert "collapse" in _failures(dict(good, output_spread_ba=0.0), 0.5, 0.01)[0]
    assert (
        "cycle_l1_bab 0.9000 > threshold 0.5"
        in _failures(dict(good, cycle_l1_bab=0.9), 0.5, 0.01)[0]
    )
    baseline = dict(good, cycle_l1_aba=0.05)
    (worse,) = _failures(good, 0.5, 0.01, baseline, baseline_margin=0.1)
    assert "worse than the blessed baseline" in worse and "cycle_l1_aba" in worse
    assert _failures(good, 0.5, 0.01, dict(good, cycle_l1_aba=0.095), 0.1) == []


def test_fid_is_skipped_with_a_note_without_inception_weights(tmp_path):
    features, note = metrics.inception_features(str(tmp_path / "missing.h5"))
    assert features is None and "FID skipped" in note and "--inception-weights" in note
    assert "KID" in note


def test_fid_with_local_inception_weights(tmp_path):
    # Randomly initialised weights in the Keras file format: exercises loading and features.
    path = str(tmp_path / metrics.INCEPTION_WEIGHTS_FILE)
    keras.applications.InceptionV3(
        include_top=False, weights=None, pooling="avg", input_shape=(299, 299, 3)
    ).save_weights(path)
    features, note = metrics.inception_features(path)
    assert path in note and features(_images(3, 2)).shape == (2, 2048)
    result = metrics.evaluate(
        lambda x: x, lambda x: -x, _images(4), _images(5), [], [], features=features
    )
    for name in ("fid_ab", "fid_ba", "kid_ab", "kid_ba", "kid_ab_std", "kid_ba_std"):
        assert np.isfinite(result[name]), name
