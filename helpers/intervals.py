"""Confidence intervals for accuracies measured on a few hundred photos (notebook 5).

>>> accuracy_interval(147, 153)                       # 147 of 153 validation photos right
(0.96..., 0.91..., 0.98...)
>>> paired_difference_interval(model_a_correct, model_b_correct)   # the same photos, two models

For two models scored on the same photos, the difference of their accuracies is decided by the
photos on which they disagree; Newcombe's interval for paired proportions (his "method 10",
Statistics in Medicine 17, 1998, 2635-2650) stays honest when they disagree on very few photos,
or none, where a bootstrap collapses to a zero-width interval.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, norm

__all__ = ["accuracy_interval", "paired_difference_interval"]


def accuracy_interval(n_correct: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Accuracy and its exact (Clopper-Pearson) confidence interval: (accuracy, low, high)."""
    interval = binomtest(int(n_correct), int(n)).proportion_ci(confidence_level=confidence)
    return n_correct / n, interval.low, interval.high


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    centre = (successes + z**2 / 2) / (n + z**2)
    half = z * np.sqrt(successes * (n - successes) / n + z**2 / 4) / (n + z**2)
    return centre - half, centre + half


def paired_difference_interval(correct_a, correct_b, confidence: float = 0.95) -> tuple[float, float, float]:
    """Accuracy of A minus accuracy of B on the same photos: (difference, low, high), Newcombe's method 10."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("give one True/False per photo for each model, for the same photos")
    n, z = len(a), norm.ppf(0.5 + confidence / 2)
    both, only_a, only_b, neither = (np.sum(a & b), np.sum(a & ~b), np.sum(~a & b), np.sum(~a & ~b))
    p_a, p_b = (both + only_a) / n, (both + only_b) / n
    low_a, high_a = _wilson(both + only_a, n, z)
    low_b, high_b = _wilson(both + only_b, n, z)
    # the correlation of the two models' answers, with Newcombe's continuity correction
    spread = float(both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    agreement = float(both) * neither - float(only_a) * only_b
    if spread == 0:
        phi = 0.0
    else:
        phi = (max(agreement - n / 2, 0.0) if agreement > 0 else agreement) / np.sqrt(spread)
    difference = p_a - p_b
    low = difference - np.sqrt(max((p_a - low_a) ** 2 - 2 * phi * (p_a - low_a) * (high_b - p_b) + (high_b - p_b) ** 2, 0))
    high = difference + np.sqrt(max((high_a - p_a) ** 2 - 2 * phi * (high_a - p_a) * (p_b - low_b) + (p_b - low_b) ** 2, 0))
    return float(difference), float(max(low, -1.0)), float(min(high, 1.0))
