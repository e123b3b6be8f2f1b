"""Render a model card (Markdown) from an exported model's metadata.json.

python -m training.model_card models/emotion/1 [--notes notes.md] > models/README.md

Every number comes from the export's own metadata and evaluation, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contract.modeldir import read_metadata, resolve_version_dir
from training.cli import command
from training.config import TTA_VIEWS

# Published FER2013 test accuracies, for context (not measured here).
REFERENCES = [
    ("Human accuracy (Goodfellow et al., 2013)", "≈ 65%"),
    ("`fer` package, mini-Xception", "≈ 66%"),
    ("VGG variant, Khaireddin & Chen 2021 (best single network)", "73.3%"),
]


def accuracy_table(metrics: dict[str, Any]) -> str:
    """Per-class precision/recall/F1 table plus the overall rows."""
    lines = ["| class | precision | recall | F1 | test images |", "|---|---:|---:|---:|---:|"]
    for name, row in metrics["per_class"].items():
        lines.append(
            f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |"
        )
    lines.append(f"| **overall accuracy** | | | | **{metrics['accuracy']:.2%}** of {metrics['samples']} |")
    lines.append(f"| macro-F1 | | | {metrics['macro_f1']:.3f} | |")
    return "\n".join(lines)


def class_notes(meta: dict[str, Any]) -> str:
    """The weakest class and what it is mistaken for, read off the confusion matrix."""
    metrics, names = meta.get("metrics", {}), meta["class_names"]
    if "per_class" not in metrics:
        return "No evaluation recorded."
    recalls = {name: row["recall"] for name, row in metrics["per_class"].items()}
    worst = min(recalls, key=recalls.get)
    row = list(metrics["confusion_matrix"][names.index(worst)])
    row[names.index(worst)] = -1
    confused = names[row.index(max(row))]
    rare = min(metrics["per_class"], key=lambda n: metrics["per_class"][n]["support"])
    return (
        f"Weakest class: `{worst}` (recall {recalls[worst]:.3f}), most often predicted as "
        f"`{confused}`. Rarest class: `{rare}` (recall {recalls[rare]:.3f} on "
        f"{metrics['per_class'][rare]['support']} test images)."
    )


def bias_line(meta: dict[str, Any]) -> str:
    """A sentence on the class_bias the signature applies (make recall-floor), or nothing."""
    bias = meta.get("class_bias")
    if not bias:
        return ""
    lifted = ", ".join(f"{name} {value:+.2f}" for name, value in bias.items() if value)
    return (
        "\nThe signature adds a bias to the log probabilities, fitted on validation so that every "
        f"class keeps a minimum recall (`make recall-floor`): {lifted or 'none'}."
    )


def ensemble_section(training: dict[str, Any], tta: str | None) -> str:
    """Members of an ensemble and their validation accuracy (empty for a single network)."""
    table = training.get("ensemble")
    if not table:
        return ""
    rows = "\n".join(f"| `{row['checkpoint']}` | {row['val_accuracy']:.4f} |" for row in table["members"])
    passes = len(table["members"]) * TTA_VIEWS.get(tta or "none", 1)
    return f"""
## Ensemble
The exported model averages the softmax outputs of {len(table["members"])} networks
({passes} forward passes per face with the `{tta}` test-time augmentation).
They were compared on the {table["validation_images"]} validation images only:

| member checkpoint | validation accuracy |
|---|---:|
{rows}
| **mean of the members** | **{table["val_accuracy"]:.4f}** |
"""


def training_section(training: dict[str, Any], flags: str) -> str:
    """How the network was trained; an ensemble was not trained as one (its members were, each in
    its own folder), so its template config, epoch count and best epoch would say nothing true."""
    if training.get("ensemble"):
        return (
            "Not trained as one network: the members below were trained separately, each with its\n"
            "own command, config and training history in its own folder's `metadata.json`; this\n"
            "version only averages them."
        )
    compute = compute_line(training.get("compute_time"))
    return (
        f"Full config in `metadata.json`; key flags:\n`{flags}`. Epochs run: {training.get('epochs_run')}; "
        f"best validation accuracy\n{training.get('best_val_accuracy')}.{compute}"
    )


def compute_line(compute: dict[str, Any] | None) -> str:
    """What the timed epochs cost, per machine (training.epoch_clock), or nothing if none were timed."""
    if not compute or not compute.get("epochs_timed"):
        return ""
    machines = "; ".join(
        f"{name}: {m['epochs']} epochs, {m['wall_hours']} h ({m['median_wall_s_per_epoch']} s an epoch)"
        for name, m in compute["machines"].items()
    )
    return (
        f"\nTraining time over {compute['epochs_timed']} timed epochs of {compute['epochs_run']}: "
        f"{compute['wall_hours']} h wall, {compute['cpu_hours']} CPU-hours ({machines})."
    )


def photo_section(meta: dict[str, Any], photos: dict[str, Any] | None) -> str:
    """The crop policy, and photo accuracy through the service from the scene benchmark's results."""
    policy = meta.get("crop_policy")
    lines = [
        "## Photos: crop policy and accuracy through the service",
        f"Crop policy (metadata.json `crop_policy`): `{policy}`."
        if policy
        else "No crop policy recorded: the service crops with `LEGACY` (max side x 1.3).",
    ]
    default = (photos or {}).get("variants", {}).get("default")
    if default:
        lines += [
            "",
            f"Scene benchmark (`make bench-photos`, {photos['faces']} FER2013 test faces pasted into real "
            f"photos, rolls up to +-{photos['max_angle']:g} degrees, posted to gunicorn; top face, a missed "
            "face counts as wrong):",
            "",
            "| face size | found | through the service | same faces as crops | ratio |",
            "|---:|---:|---:|---:|---:|",
        ]
        for side, row in default["sizes"].items():
            lines.append(
                f"| {side} px | {row['face_found']:.3f} | {row['service']:.4f} | {row['crops']:.4f} | "
                f"{'-' if row['ratio'] is None else format(row['ratio'], '.3f')} |"
            )
        if "goal_ratio" in photos:
            lines += ["", goal_line(default["sizes"], photos["goal_ratio"])]
    return "\n".join(lines) + "\n"


def goal_line(sizes: dict[str, dict[str, Any]], goal: float) -> str:
    """Whether the ratio reaches the benchmark's goal at each face size, said in words."""
    met = [side for side, row in sizes.items() if (row["ratio"] or 0) >= goal]
    missed = [side for side in sizes if side not in met]
    verdict = [f"met at {', '.join(met)} px"] if met else []
    verdict += [f"**not met** at {', '.join(missed)} px"] if missed else []
    return f"Goal: a ratio of at least {goal:g} at every face size; {'; '.join(verdict)}."


def render(version_dir: Path, notes: str = "", photos: dict[str, Any] | None = None) -> str:
    """The model card text."""
    meta = read_metadata(version_dir)
    metrics, training = meta.get("metrics", {}), meta.get("training", {})
    config = training.get("config", {})
    refs = "\n".join(f"| {name} | {value} |" for name, value in REFERENCES)
    flags = " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in config.items()
        if k in ("width", "depth", "epochs", "batch_size", "learning_rate", "lr_schedule", "train_seed")
    )
    return f"""# Model card: `{meta.get("name", "emotion")}` version {meta["version"]}

Folder: `{version_dir}` (TensorFlow Serving layout). Created {meta.get("created")} with
TensorFlow {meta["versions"]["tensorflow"]}, Keras {meta["versions"]["keras"]}.

## What it does
Classifies a face image into one of {len(meta["class_names"])} emotions
({", ".join(meta["class_names"])}). Input: `{meta["input"]["input_name"]}`, uint8
`[N, 48, 48, 1]` grayscale faces (0..255; normalisation is inside the model). Output:
`{meta["output"]["name"]}`, float32 `[N, {len(meta["class_names"])}]` softmax probabilities in
`class_names` order. Test-time augmentation inside the signature: `{meta.get("tta")}`.{bias_line(meta)}

## Data
FER2013 (image-folder release; see `../shared/datasets/fer2013/SOURCE.md`): 28,709 train and
7,178 test 48x48 grayscale faces. Dataset fingerprint `{meta["dataset"]["fingerprint"][:16]}…`.
Training used {training.get("train_images", "?")} images and validated on
{training.get("validation_images", "?")} (a stratified {config.get("val_fraction")} split of
train). Train images that are byte-copies of test images were dropped:
{config.get("drop_test_duplicates")}; blank images dropped: {config.get("drop_blank")}.
The test split was used only for the final numbers below, never for model selection.

## Accuracy on the full FER2013 test split (PublicTest + PrivateTest)
Computed by `make evaluate` through the exported serving signature, i.e. exactly what the
service computes for a 48x48 face.

{accuracy_table(metrics)}

For reference (published numbers, not measured here):

| model | FER2013 test accuracy |
|---|---:|
{refs}
| **this model** | **{metrics.get("accuracy", 0):.2%}** |

Confusion matrix: `evaluation/confusion_matrix.png`; curves: `evaluation/training_curves.png`.

{photo_section(meta, photos)}
## Training
{training_section(training, flags)}
{ensemble_section(training, meta.get("tta"))}{notes}
## Limitations
- FER2013 labels are noisy (human agreement ≈ 65%); 57 byte-identical images carry different
  labels, and 531 images appear in both train and test in the original release.
- 48x48 grayscale, mostly frontal faces scraped from web searches: accuracy drops for
  profile views, occlusion, low light and children; demographic balance of FER2013 is
  undocumented and skewed, so error rates likely differ across age, gender and skin tone.
- {class_notes(meta)}
- FER2013-trained models are weakest on posed disgust and fear in real photos (few, noisy
  training examples; posed expressions differ from FER2013's spontaneous web images).
- Predicts posed/apparent expression, not felt emotion.

## Intended use
Research, demos and aggregate analytics of apparent facial expression with a human in the
loop. Not for decisions about individuals (hiring, policing, health, education), nor for
inferring a person's inner state.
"""


@command
def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--notes", help="a Markdown file with run notes (command, hardware, time)")
    parser.add_argument("--photos", help="benchmarks/results/photo-accuracy.json of this model")
    args = parser.parse_args(argv)
    notes = Path(args.notes).read_text() if args.notes else ""
    photos = json.loads(Path(args.photos).read_text()) if args.photos else None
    print(render(resolve_version_dir(args.model_dir), notes, photos))
    return 0


if __name__ == "__main__":
    sys.exit(main())
