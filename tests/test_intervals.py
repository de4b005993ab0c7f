"""helpers.intervals: exact accuracy intervals and Newcombe's paired-difference interval."""

import numpy as np
import pytest

from helpers.intervals import accuracy_interval, paired_difference_interval


def test_accuracy_interval_is_clopper_pearson():
    accuracy, low, high = accuracy_interval(20, 20)
    assert accuracy == 1.0 and high == 1.0 and low == pytest.approx(0.8316, abs=1e-4)  # 0.025 ** (1 / 20)


@pytest.mark.parametrize("only_a, only_b", [(0.08, 0.03), (0.005, 0.005)])  # a real gap; two models that rarely disagree
def test_the_interval_covers_the_true_difference_95_times_in_100(only_a, only_b):
    """Simulated validation sets of 153 photos: the 95% interval must contain the true difference about 95% of the time."""
    rng = np.random.default_rng(0)
    both = 0.85
    covered = 0
    for _ in range(2000):
        outcome = rng.choice(4, size=153, p=[both, only_a, only_b, 1 - both - only_a - only_b])
        a, b = np.isin(outcome, [0, 1]), np.isin(outcome, [0, 2])
        _, low, high = paired_difference_interval(a, b)
        covered += low <= only_a - only_b <= high
    assert covered / 2000 >= 0.93  # (conservative when the two rarely disagree: 99.9% there)


def test_two_models_that_agree_everywhere_still_get_an_interval():
    """A bootstrap gives +0.0% to +0.0% here: the data cannot rule out a small difference either way."""
    same = np.array([True] * 147 + [False] * 6)
    difference, low, high = paired_difference_interval(same, same)
    assert difference == 0 and low < -0.01 and high > 0.01


def test_one_disagreement_does_not_rule_out_the_other_sign():
    a = np.array([True] * 147 + [False] * 6)
    b = a.copy()
    b[0] = False  # B misses one photo A gets right
    difference, low, high = paired_difference_interval(a, b)
    assert difference == pytest.approx(1 / 153) and low < 0 < high


def test_a_real_difference_excludes_zero():
    a = np.array([True] * 140 + [False] * 13)
    b = np.array([True] * 100 + [False] * 53)
    assert paired_difference_interval(a, b)[1] > 0.15


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same photos"):
        paired_difference_interval([True, False], [True])
