"""Choose a checkpoint's test-time views on the validation split, under a cost cap.

python -m training.choose_tta --checkpoint runs/x/best.keras --data-dir DIR --config f.toml
    [--candidates none,flip,flip-zoom,flip-crop5] [--max-passes 4] [--out choice.json]

For each candidate view set: the validation accuracy of exactly what the serving signature
computes (training.ensemble.accuracy), and its cost in 48x48-input forward passes of the
network (views x (crop size / 48)^2 x members). Among the candidates within --max-passes the
most accurate wins; candidates within one validation image of it (1/N) go to the cheapest,
as the single-network rule says (training/configs/fer2013-single-rule.md). The split is the
run's own (training.run.load_run); the test split is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contract import IMAGE_SIZE
from training.cli import command
from training.config import TTA_VIEWS, add_arguments, config_from_args
from training.data import load_arrays
from training.ensemble import accuracy
from training.errors import ConfigError
from training.keras_models import load_checkpoint, model_crop_size
from training.publish import served_network
from training.run import load_run
from training.signature import networks


def passes(tta: str, crop_sizes: Sequence[int]) -> float:
    """Forward passes of a 48x48-input network one face costs: views x sum of (crop/48)^2 over
    the networks averaged (one for a single network, one per member of an ensemble)."""
    return round(TTA_VIEWS[tta] * sum((crop / IMAGE_SIZE) ** 2 for crop in crop_sizes), 2)


def choose(rows: list[dict[str, Any]], max_passes: float, images: int) -> dict[str, Any] | None:
    """The most accurate row within the cap; rows within one image of it go to the cheapest."""
    eligible = [r for r in rows if r.get("val_accuracy") is not None and r["passes"] <= max_passes]
    if not eligible:
        return None
    best = max(r["val_accuracy"] for r in eligible)
    close = [r for r in eligible if best - r["val_accuracy"] < 1.0 / images]
    return min(close, key=lambda r: (r["passes"], -r["val_accuracy"]))


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: print (and optionally write) the validation table and the chosen view set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a .keras file (e.g. runs/x/best.keras)")
    parser.add_argument("--candidates", default=",".join(TTA_VIEWS), help="comma list of tta names")
    parser.add_argument("--max-passes", type=float, default=4.0, help="cost cap in 48x48 passes a face")
    parser.add_argument("--out", type=Path, help="write the table and the choice as JSON")
    add_arguments(parser)
    args = parser.parse_args(argv)
    candidates = [c for c in args.candidates.split(",") if c]
    unknown = [c for c in candidates if c not in TTA_VIEWS]
    if unknown:
        raise ConfigError(f"--candidates: unknown tta {', '.join(unknown)}; expected {', '.join(TTA_VIEWS)}")
    if not Path(args.checkpoint).is_file():
        raise ConfigError(f"--checkpoint: no file {args.checkpoint}")
    config = config_from_args(args)
    run = load_run(config)
    model = served_network(load_checkpoint(args.checkpoint, compile=False), config)
    crops = [model_crop_size(network) for network in networks(model)]
    images, labels = load_arrays(run.val_rows, run.class_names)
    rows = []
    for tta in candidates:
        row: dict[str, Any] = {"tta": tta, "passes": passes(tta, crops)}
        try:
            row["val_accuracy"] = round(accuracy(model, images, labels, tta), 4)
        except ValueError as exc:  # e.g. flip-crop5 on a network that takes the whole 48x48 face
            row["val_accuracy"], row["skipped"] = None, str(exc)
        rows.append(row)
        shown = "skipped: " + row["skipped"] if "skipped" in row else f"{row['val_accuracy']:.4f}"
        print(f"{tta:<11} {row['passes']:>6.2f} passes  validation {shown}", flush=True)
    chosen = choose(rows, args.max_passes, len(labels))
    result = {
        "checkpoint": str(args.checkpoint),
        "validation_images": len(labels),
        "crop_sizes": crops,  # the face side each averaged network takes (one per member)
        "members": len(crops),
        "max_passes": args.max_passes,
        "rows": rows,
        "chosen": chosen["tta"] if chosen else None,
    }
    print(f"chosen: {result['chosen'] or f'none within {args.max_passes} passes'}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if chosen else 1


if __name__ == "__main__":
    sys.exit(main())
