"""Choosing test-time views on validation under a cost cap (training.choose_tta)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.models import checkpoint_cli_args
from training import choose_tta


@pytest.mark.parametrize(
    ("tta", "crops", "expected"),
    [
        ("flip", [44], 1.68),  # the single-network run's candidates (fer2013-single-rule.md)
        ("flip-zoom", [44], 3.36),
        ("flip-crop5", [44], 8.4),
        ("flip-zoom", [48, 48], 8.0),  # version 7: two networks x 4 views
        ("none", [48], 1.0),
        ("flip-zoom", [44, 48], 7.36),  # a mixed ensemble: each member at its own crop size
    ],
)
def test_cost_in_48x48_passes(tta: str, crops: list[int], expected: float) -> None:
    """views x the sum of (crop / 48)^2 over the networks."""
    assert choose_tta.passes(tta, crops) == expected


@pytest.mark.parametrize(
    ("rows", "cap", "expected"),
    [
        # The most accurate within the cap wins...
        ([("flip", 1.68, 0.70), ("flip-zoom", 3.36, 0.71), ("flip-crop5", 8.4, 0.72)], 4.0, "flip-zoom"),
        # ...unless a cheaper one is within one validation image (1/1000 here) of it.
        ([("flip", 1.68, 0.7095), ("flip-zoom", 3.36, 0.7100)], 4.0, "flip"),
        ([("flip", 1.68, 0.7085), ("flip-zoom", 3.36, 0.7100)], 4.0, "flip-zoom"),
        # A skipped candidate (no accuracy) never wins; nothing within the cap means no choice.
        ([("flip", 1.68, None), ("none", 0.84, 0.60)], 4.0, "none"),
        ([("flip-crop5", 8.4, 0.72)], 4.0, None),
    ],
)
def test_choice_rule(rows: list, cap: float, expected: str | None) -> None:
    """The written rule: best within the cap; within one image, the cheaper."""
    table = [{"tta": t, "passes": p, "val_accuracy": a} for t, p, a in rows]
    chosen = choose_tta.choose(table, cap, images=1000)
    assert (chosen["tta"] if chosen else None) == expected


def test_cli_scores_on_validation_only_and_writes_the_choice(
    tmp_path: Path, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every candidate is scored on the run's validation rows (never a test file); a view set the
    network cannot run is reported as skipped; the choice is written."""
    argv = checkpoint_cli_args(tmp_path, tiny_dataset)
    read = []
    real = choose_tta.load_arrays

    def spy(rows, class_names):
        read.extend(str(p) for p in rows["path"])
        return real(rows, class_names)

    monkeypatch.setattr(choose_tta, "load_arrays", spy)
    out = tmp_path / "choice.json"
    code = choose_tta.main([*argv, "--candidates", "none,flip,flip-crop5", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    rows = {r["tta"]: r for r in result["rows"]}
    assert "skipped" in rows["flip-crop5"] and rows["flip-crop5"]["val_accuracy"] is None
    assert all(0.0 <= rows[t]["val_accuracy"] <= 1.0 for t in ("none", "flip"))
    assert result["chosen"] in ("none", "flip") and result["validation_images"] == len(read) > 0
    assert read and not [p for p in read if "/test/" in p]


def test_cli_refuses_unknown_candidates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A typo exits 2 with one error line, before anything is loaded."""
    assert choose_tta.main(["--checkpoint", "x.keras", "--candidates", "flip,tencrop"]) == 2
    assert "unknown tta tencrop" in capsys.readouterr().err
