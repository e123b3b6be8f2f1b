"""Dataset report: counts, imbalance, bad files, blanks and duplicate leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from training.manifest import usable


def duplicate_stats(manifest: pd.DataFrame) -> dict[str, Any]:
    """Byte-identical duplicate groups within splits, across splits, and with label conflicts."""
    ok = usable(manifest)
    groups = ok.groupby("sha256")
    sizes = groups.size()
    dup_hashes = sizes[sizes > 1].index
    dups = ok[ok.sha256.isin(dup_hashes)]
    per_group = dups.groupby("sha256")
    within = {}
    for split, part in ok.groupby("split"):
        counts = part.groupby("sha256").size()
        counts = counts[counts > 1]
        within[split] = {"groups": len(counts), "extra_files": int((counts - 1).sum())}
    across = per_group.split.nunique()
    conflicts = per_group.label.nunique()
    conflict_hashes = conflicts[conflicts > 1].index
    return {
        "groups": len(dup_hashes),
        "extra_files": int((sizes[sizes > 1] - 1).sum()),
        "within_split": within,
        "across_train_test": int((across > 1).sum()),
        "conflicting_labels": len(conflict_hashes),
        "conflicting_examples": [
            sorted(dups.loc[dups.sha256 == h, "path"].tolist()) for h in list(conflict_hashes)[:10]
        ],
    }


def dataset_report(manifest: pd.DataFrame) -> dict[str, Any]:
    """All report numbers as a JSON-ready dict."""
    ok = usable(manifest)
    counts = ok.pivot_table(index="label", columns="split", values="path", aggfunc="count", fill_value=0)
    train_counts = counts["train"] if "train" in counts else counts.iloc[:, 0]
    bad = manifest[manifest.status != "ok"]
    return {
        "files": len(manifest),
        "images": len(ok),
        "counts": {split: {k: int(v) for k, v in counts[split].items()} for split in counts},
        "totals": {split: int(counts[split].sum()) for split in counts},
        "imbalance_ratio": round(float(train_counts.max() / max(train_counts.min(), 1)), 3),
        "unreadable": sorted(bad.loc[bad.status == "unreadable", "path"].tolist()),
        "not_image": sorted(bad.loc[bad.status == "not_image", "path"].tolist()),
        "blank": {"count": int(ok.blank.sum()), "paths": sorted(ok.loc[ok.blank, "path"].tolist())},
        "sizes": {f"{w}x{h}": int(n) for (w, h), n in ok.groupby(["width", "height"]).size().items()},
        "duplicates": duplicate_stats(manifest),
    }


def format_report(report: dict[str, Any]) -> str:
    """A short human-readable summary for the console."""
    dup = report["duplicates"]
    table = pd.DataFrame(report["counts"]).fillna(0).astype(int)
    lines = [
        "Dataset report",
        table.to_string(),
        f"totals: {report['totals']}  imbalance ratio (train max/min): {report['imbalance_ratio']}",
        f"unreadable files: {len(report['unreadable'])}  non-image files: {len(report['not_image'])}"
        f"  blank images: {report['blank']['count']}",
        f"duplicate groups: {dup['groups']} ({dup['extra_files']} extra files); within split: "
        f"{dup['within_split']}; in both train and test: {dup['across_train_test']}; "
        f"with conflicting labels: {dup['conflicting_labels']}",
    ]
    return "\n".join(lines)


def save_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write report.json, report_counts.csv and report_counts.png into out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "dataset_report.json", out / "dataset_counts.csv", out / "dataset_counts.png"]
    paths[0].write_text(json.dumps(report, indent=2))
    table = pd.DataFrame(report["counts"]).fillna(0).astype(int)
    table.index.name = "label"
    table.to_csv(paths[1])
    ax = table.plot.bar(figsize=(8, 4.5), rot=0, title="Images per class and split")
    ax.set_ylabel("images")
    plt.tight_layout()
    ax.figure.savefig(paths[2], dpi=100)
    plt.close(ax.figure)
    return paths
