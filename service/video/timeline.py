"""timeline.png: per track, the stacked class probabilities over time (matplotlib, no display needed).

The points are read back from frames.csv, so the analysis never holds a whole video's results;
each track is averaged into at most MAX_POINTS time bins, and only the MAX_TRACKS longest are drawn.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

MAX_TRACKS = 8
MAX_POINTS = 600
COLOURS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#f2b701",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#2ca02c",
}


def _series(csv_path: Path, tracks: list[int], class_names: list[str], duration: float) -> dict[int, Any]:
    """Per track: bin centres (s) and mean probabilities per bin, streamed from the CSV."""
    bins = MAX_POINTS
    width = max(duration, 1e-3) / bins
    sums = {t: np.zeros((bins, len(class_names))) for t in tracks}
    counts = {t: np.zeros(bins) for t in tracks}
    with csv_path.open(newline="") as file:
        for row in csv.DictReader(file):
            track = int(row["track_id"])
            if track in sums:
                b = min(bins - 1, int(float(row["time_s"]) / width))
                sums[track][b] += [float(row[name]) for name in class_names]
                counts[track][b] += 1
    out = {}
    for t in tracks:
        seen = counts[t] > 0
        out[t] = ((np.flatnonzero(seen) + 0.5) * width, sums[t][seen] / counts[t][seen, None])
    return out


def draw_timeline(
    csv_path: Path, png_path: Path, tracks: list[dict[str, Any]], class_names: list[str], duration: float
) -> Path:
    """Write the chart for the longest tracks; a note instead of axes when no face was found."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and in CI
    import matplotlib.pyplot as plt

    shown = sorted(tracks, key=lambda t: -t["frames"])[:MAX_TRACKS]
    shown.sort(key=lambda t: t["track_id"])
    rows = max(1, len(shown))
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.7 * rows + 0.9), sharex=True, squeeze=False)
    colours = [COLOURS.get(name, f"C{i}") for i, name in enumerate(class_names)]
    if not shown:
        axes[0, 0].text(0.5, 0.5, "no faces found", ha="center", va="center", transform=axes[0, 0].transAxes)
        axes[0, 0].set_yticks([])
    series = _series(csv_path, [t["track_id"] for t in shown], class_names, duration)
    for ax, track in zip(axes[:, 0], shown, strict=False):
        times, probs = series[track["track_id"]]
        ax.stackplot(times, probs.T, colors=colours, labels=class_names, step="mid")
        ax.set_ylim(0, 1)
        ax.set_xlim(0, max(duration, times.max() if len(times) else 0.0))
        ax.set_ylabel("probability", fontsize=8)
        ax.set_title(
            f"track {track['track_id']}: {track['dominant_emotion']} "
            f"({track['first_s']:.1f}-{track['last_s']:.1f} s, {track['frames']} frames)",
            fontsize=9,
            loc="left",
        )
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(class_names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.94 if handles else 1))
    fig.savefig(png_path, dpi=80)
    plt.close(fig)
    return png_path
