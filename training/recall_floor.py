"""Lift the weakest classes' recall to a floor on validation with per-class log-prior biases.

python -m training.recall_floor --checkpoint runs/x/best.keras --data-dir DIR --config f.toml
    [--tta flip] [--floor 0.55] [--out runs/x/recall-floor.json]

A network trained on FER2013 predicts fear too rarely (recall 0.42-0.50 on test across the
committed versions, 0.47 for the default), and a model may have to keep every class's recall
above a floor. The served probabilities p become p * exp(b) / sum(p * exp(b)), i.e. a bias b
added to the log probabilities, inside the serving signature (config `class_bias`,
training.signature), so the service, `make evaluate`, TF Serving and every runtime (all of which
run the signature) see the same adjusted model; a version reloaded from its model.keras (as a
teacher or an ensemble member) is the network without it. The fit scores the network as
publish() exports it (float32, training.publish.served_network).

The fit changes as little as it can: while some class's validation recall is under the floor,
the lowest such class gets the smallest bias (in steps of 0.01) that lifts it to the floor,
others stay at 0. A bias on every class, fitted for accuracy, overfits the validation split:
in a split-half probe on version 7 and the second single run (2026-12-06, docs/training.md)
it lost 0.5-1.3 points of accuracy on the half it was not fitted on, where this minimal lift
lost 0.2-1.0. The test split is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from training.cli import command
from training.errors import ConfigError

STEP = 0.01
MAX_BIAS = 3.0  # exp(3) = 20x the class's odds: beyond that the class is not being rescued, it is guessed
MAX_ROUNDS = 20  # lifting one class can push another under the floor; this bounds the back and forth
# 0.50 (the floor on test) plus about 1.7 standard errors of the difference between a
# validation recall (fear: ~400 faces, 0.025) and a test recall (1,024 faces, 0.016): the
# single-network rule (training/configs/fer2013-single-rule.md, rule 7) uses it.
DEFAULT_FLOOR = 0.55


class FloorUnreachable(ValueError):
    """No bias up to MAX_BIAS lifts a class to the floor (or the lifts keep undoing each other)."""


def adjust(probabilities: np.ndarray, bias: np.ndarray | list[float] | tuple[float, ...]) -> np.ndarray:
    """p * exp(bias), renormalised per row: what the signature serves with class_bias."""
    weighted = np.asarray(probabilities, np.float64) * np.exp(np.asarray(bias, np.float64))
    return weighted / weighted.sum(axis=1, keepdims=True)


def predicted(probabilities: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The class each row is served as under the bias: argmax(log p + bias)."""
    return np.argmax(np.log(np.maximum(probabilities, 1e-12)) + bias, axis=1)


def recalls(probabilities: np.ndarray, labels: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Per-class recall under the bias; a class without examples counts as 1."""
    return _recalls(predicted(probabilities, bias), labels, probabilities.shape[1])


def _recalls(served: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Per-class recall of given predictions; a class without examples counts as 1."""
    return np.array(
        [(served[labels == k] == k).mean() if (labels == k).any() else 1.0 for k in range(classes)]
    )


def fit(probabilities: np.ndarray, labels: np.ndarray, floor: float) -> np.ndarray:
    """The minimal lift (module docstring): biases, 0 for every class already at the floor."""
    bias = np.zeros(probabilities.shape[1])
    steps = np.round(np.arange(STEP, MAX_BIAS + STEP / 2, STEP), 2)
    for _ in range(MAX_ROUNDS):
        current = recalls(probabilities, labels, bias)
        low = np.flatnonzero(current < floor)
        if not len(low):
            return bias
        k = int(low[np.argmin(current[low])])
        for value in steps[steps > bias[k]]:
            trial = bias.copy()
            trial[k] = value
            if recalls(probabilities, labels, trial)[k] >= floor:
                bias = trial
                break
        else:
            raise FloorUnreachable(f"class {k} stays under recall {floor} with a bias of {MAX_BIAS}")
    raise FloorUnreachable(f"the lifts did not settle in {MAX_ROUNDS} rounds")


def summary(probabilities: np.ndarray, labels: np.ndarray, bias: np.ndarray) -> dict[str, Any]:
    """Accuracy and per-class recall under a bias, rounded for the JSON record."""
    served = predicted(probabilities, bias)
    return {
        "accuracy": round(float((served == labels).mean()), 4),
        "recall": [round(float(r), 4) for r in _recalls(served, labels, probabilities.shape[1])],
    }


def record(probabilities: np.ndarray, labels: np.ndarray, floor: float) -> dict[str, Any]:
    """The fit and both tables; class_bias is None (and "error" says why) when no bias reaches the floor."""
    before = summary(probabilities, labels, np.zeros(probabilities.shape[1]))
    try:
        bias = fit(probabilities, labels, floor)
    except FloorUnreachable as exc:
        return {"floor": floor, "class_bias": None, "error": str(exc), "before": before, "after": None}
    rounded = [round(float(b), 2) for b in bias]
    return {
        "floor": floor,
        "class_bias": rounded,
        "before": before,
        "after": summary(probabilities, labels, bias),
    }


def render(result: dict[str, Any]) -> str:
    """Recall per class before -> after with its bias, accuracy, and the export flag."""
    names, after = result["class_names"], result["after"] or result["before"]
    bias = result["class_bias"] or [0.0] * len(names)
    width = max(len(n) for n in names)
    images, tta = result["validation_images"], result["tta"]
    lines = [f"validation ({images} images, tta {tta}): recall before -> after, bias"]
    for name, r0, r1, b in zip(names, result["before"]["recall"], after["recall"], bias, strict=True):
        lines.append(f"  {name:<{width}}  {r0:.3f} -> {r1:.3f}  {b:+.2f}")
    lines.append(f"  accuracy {result['before']['accuracy']:.4f} -> {after['accuracy']:.4f}")
    if result["class_bias"] is None:
        lines.append(f"recall floor {result['floor']} not reached: {result['error']}")
    else:
        lines.append("export with: --class-bias " + ",".join(f"{b:g}" for b in result["class_bias"]))
    return "\n".join(lines)


@command
def main(argv: list[str] | None = None) -> int:
    """CLI: fit the lift on the run's validation rows, print both tables, write the record."""
    from training.config import TTA_VIEWS, add_arguments, config_from_args
    from training.data import load_arrays
    from training.keras_models import load_checkpoint
    from training.publish import served_network
    from training.run import load_run
    from training.signature import served_probabilities

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a .keras file (e.g. runs/x/best.keras)")
    parser.add_argument(
        "--floor", type=float, default=DEFAULT_FLOOR, help="the lowest validation recall a class may have"
    )
    parser.add_argument("--out", type=Path, help="write the biases and both tables as JSON")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not 0.0 < args.floor < 1.0:
        raise ConfigError(f"--floor must be in (0, 1), got {args.floor}")
    if not Path(args.checkpoint).is_file():
        raise ConfigError(f"--checkpoint: no file {args.checkpoint}")
    config = config_from_args(args)
    run = load_run(config)
    model = served_network(load_checkpoint(args.checkpoint, compile=False), config)  # as exported
    images, labels = load_arrays(run.val_rows, run.class_names)
    probabilities = served_probabilities(model, images, config.tta)  # without any class_bias
    result = {
        "checkpoint": str(args.checkpoint),
        "tta": config.tta,
        "views": TTA_VIEWS[config.tta],
        "validation_images": len(labels),
        "class_names": run.class_names,
        **record(probabilities, labels, args.floor),
    }
    print(render(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["class_bias"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
