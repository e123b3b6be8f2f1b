"""The files of an evaluation folder: metrics.json, report, confusion matrices, curves, photo extras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.scoring import compute_metrics


def classification_report(metrics: dict[str, Any]) -> str:
    """A sklearn-style text report of the per-class numbers."""
    frame = pd.DataFrame(metrics["per_class"]).T
    lines = [
        frame.to_string(float_format=lambda v: f"{v:.4f}"),
        "",
        f"accuracy  {metrics['accuracy']:.4f}   macro-F1  {metrics['macro_f1']:.4f}   "
        f"weighted-F1  {metrics['weighted_f1']:.4f}   samples  {metrics['samples']}",
    ]
    return "\n".join(lines)


def write_artifacts(
    metrics: dict[str, Any], class_names: list[str], out_dir: Path, history: pd.DataFrame | None = None
) -> list[Path]:
    """metrics.json, classification report, confusion matrices (CSV+PNG), training curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        out_dir / "metrics.json",
        out_dir / "classification_report.txt",
        out_dir / "confusion_matrix.csv",
        out_dir / "confusion_matrix_normalized.csv",
        out_dir / "confusion_matrix.png",
    ]
    written[0].write_text(json.dumps(metrics, indent=2) + "\n")
    written[1].write_text(classification_report(metrics) + "\n")
    counts = pd.DataFrame(metrics["confusion_matrix"], index=class_names, columns=class_names)
    counts.index.name = "true"
    normalized = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    counts.to_csv(written[2])
    normalized.round(4).to_csv(written[3])
    fig, axes = plt.subplots(1, 2, figsize=(15, 6))
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", ax=axes[0], cbar=False)
    sns.heatmap(normalized, annot=True, fmt=".2f", cmap="Blues", ax=axes[1], vmin=0, vmax=1)
    for ax, title in zip(axes, ("counts", "row-normalised (recall)"), strict=True):
        ax.set(title=f"Confusion matrix, {title}", xlabel="predicted", ylabel="true")
    fig.suptitle(
        f"accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, n={metrics['samples']}"
    )
    fig.tight_layout()
    fig.savefig(written[4], dpi=90)
    plt.close(fig)
    if history is not None and len(history):
        written.append(plot_history(history, out_dir / "training_curves.png"))
    return written


def plot_history(history: pd.DataFrame, path: Path) -> Path:
    """Accuracy and loss per epoch, train vs validation."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    epochs = history.epoch + 1
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(epochs, history[metric], label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_photo_artifacts(
    metrics: dict[str, Any],
    probs: np.ndarray,
    labels: np.ndarray,
    crops: np.ndarray,
    class_names: list[str],
    out: Path,
) -> None:
    """A photo evaluation's files: the crop artefacts on found faces, the no-face matrix, a contact sheet."""
    from training.photos import contact_sheet

    found = ~np.isnan(probs).any(axis=1)
    if found.any():
        write_artifacts(
            {**metrics, **compute_metrics(probs[found], labels[found], class_names)}, class_names, out
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    # The report and matrix images above cover the photos where a face was found; say so, with
    # the number that counts a missed face as wrong.
    with (out / "classification_report.txt").open("a") as report:
        report.write(
            f"\nphotos {metrics['photos']}: faces found {metrics['face_found_rate']:.4f}; the table is on "
            f"found faces; top-face accuracy with missed faces counted wrong: {metrics['accuracy']:.4f}\n"
        )
    table = pd.DataFrame(
        metrics["confusion_matrix_with_no_face"], index=class_names, columns=metrics["confusion_columns"]
    )
    table.index.name = "true"
    table.to_csv(out / "confusion_matrix_with_no_face.csv")
    contact_sheet(crops, labels, probs, class_names, out / "contact_sheet.png")
