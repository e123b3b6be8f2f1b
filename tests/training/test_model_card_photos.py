"""The model card says, per face size, whether the scene benchmark's goal is met."""

from __future__ import annotations

from typing import Any

import pytest

from training.model_card import goal_line, photo_section


def sizes(*ratios: float | None) -> dict[str, dict[str, Any]]:
    return {
        str(side): {"face_found": 0.98, "service": 0.6, "crops": 0.7, "ratio": ratio}
        for side, ratio in zip((64, 128, 256), ratios, strict=True)
    }


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ((0.908, 0.944, 0.950), "**not met** at 64, 128, 256 px."),
        ((0.908, 0.97, 1.0), "met at 128, 256 px; **not met** at 64 px."),
        ((0.97, 0.99, 1.01), "met at 64, 128, 256 px."),
        ((None, 0.99, 0.99), "met at 128, 256 px; **not met** at 64 px."),  # no crops right: no ratio
    ],
)
def test_goal_line_names_the_sizes_that_meet_it_and_those_that_do_not(ratios, expected) -> None:
    assert goal_line(sizes(*ratios), 0.97) == f"Goal: a ratio of at least 0.97 at every face size; {expected}"


def test_the_photo_section_carries_the_goal_of_the_benchmark_results() -> None:
    photos = {
        "faces": 500,
        "max_angle": 15.0,
        "goal_ratio": 0.97,
        "variants": {"default": {"sizes": sizes(0.9, 1, 1)}},
    }
    section = photo_section({"crop_policy": {"scale": 1.0}}, photos)
    assert "| 64 px | 0.980 | 0.6000 | 0.7000 | 0.900 |" in section
    assert section.rstrip().endswith("**not met** at 64 px.")


def test_results_without_a_goal_get_no_goal_line() -> None:
    photos = {"faces": 500, "max_angle": 15.0, "variants": {"default": {"sizes": sizes(0.9, 1, 1)}}}
    assert "Goal" not in photo_section({}, photos)
