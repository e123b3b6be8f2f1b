"""benchmarks.stats: bootstrap intervals over faces, with pairs kept together."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.stats import bootstrap_interval, difference, ratio


def test_identical_outcomes_differ_by_exactly_zero_in_every_resample() -> None:
    ok = np.random.default_rng(1).random(300) < 0.6
    assert bootstrap_interval(difference, [ok, ok]) == (0.0, 0.0)


def test_a_consistent_small_lead_on_the_same_faces_is_significant_when_paired() -> None:
    """Model a is right on 10 of 500 faces where b is wrong, equal elsewhere (accuracies about
    0.5). Resampled as pairs, every resample keeps a ahead; resampled independently the two
    accuracies' own noise (about 2.2 points each) would swamp a 2-point lead."""
    rng = np.random.default_rng(2)
    b_ok = rng.random(500) < 0.5
    a_ok = b_ok.copy()
    a_ok[np.flatnonzero(~b_ok)[:10]] = True
    low, high = bootstrap_interval(difference, [a_ok, b_ok])
    assert 0.0 < low <= difference(a_ok, b_ok) <= high < 0.05


@pytest.mark.parametrize("faces", [100, 1000])
def test_ratio_interval_holds_the_estimate_and_narrows_with_more_faces(faces: int) -> None:
    rng = np.random.default_rng(3)
    crop_ok = rng.random(faces) < 0.7
    scene_ok = crop_ok & (rng.random(faces) < 0.95)
    low, high = bootstrap_interval(ratio, [scene_ok, crop_ok])
    assert low <= ratio(scene_ok, crop_ok) <= high <= 1.0
    # One face's crop and scene move together: scenes right only where crops are right means
    # the ratio can never pass 1.
    assert high - low < (0.2 if faces == 100 else 0.06)


def test_same_seed_same_interval_and_columns_must_match() -> None:
    ok = np.random.default_rng(4).random(200) < 0.5
    assert bootstrap_interval(ratio, [ok, ~ok | ok]) == bootstrap_interval(ratio, [ok, ~ok | ok])
    with pytest.raises(ValueError):
        bootstrap_interval(difference, [ok, ok[:-1]])
    with pytest.raises(ValueError):
        bootstrap_interval(difference, [[], []])
