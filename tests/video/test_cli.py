"""The video CLI on files and folders with the tiny model: every output file, tracks, options, failures."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import pytest

from service.video.cli import main
from tests import videos
from tests.videos import make_clip


def run(tiny_model_dir: Path, *args: str | Path) -> int:
    """python -m service.video ... in-process, with the tiny model and no progress bar."""
    return main([*map(str, args), "--model-dir", str(tiny_model_dir), "--no-progress"])


def rows(folder: Path) -> list[dict[str, str]]:
    """frames.csv as dicts."""
    with (folder / "frames.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def test_one_video_writes_every_output(tiny_model_dir: Path, two_faces_clip: Path, tmp_path: Path) -> None:
    """frames.csv (a row per face per sampled frame), tracks.json, timeline.png and annotated.mp4."""
    out = tmp_path / "out"
    assert run(tiny_model_dir, two_faces_clip, "--out", out, "--annotate") == 0
    table = rows(out)
    assert len(table) == 2 * 12
    assert list(table[0])[:11] == ["frame", "time_s", "track_id", "x", "y", "width", "height",
                                   "detection_score", "label", "confidence", "smoothed_label"]  # fmt: skip
    assert list(table[0])[11:] == json.loads((tiny_model_dir / "metadata.json").read_text())["class_names"]
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["model"]["version"] == "1" and doc["video"]["frames_sampled"] == 12
    assert [(t["track_id"], t["first_s"], t["last_s"], t["frames"]) for t in doc["tracks"]] == [
        (1, 0.0, 2.8, 12),
        (2, 0.0, 2.8, 12),
    ]
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    annotated = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert annotated.get(cv2.CAP_PROP_FRAME_COUNT) == 12 and annotated.get(cv2.CAP_PROP_FPS) == 4.0


@pytest.mark.parametrize(("gap", "tracks"), [("1", [(0.0, 1.8), (4.0, 5.8)]), ("3", [(0.0, 5.8)])])
def test_max_gap_decides_whether_a_returning_face_keeps_its_track(
    tiny_model_dir: Path, return_clip: Path, tmp_path: Path, gap: str, tracks: list
) -> None:
    """Away for 2 s: a new track with --max-gap 1, the same one with --max-gap 3."""
    assert run(tiny_model_dir, return_clip, "--out", tmp_path, "--max-gap", gap) == 0
    doc = json.loads((tmp_path / "tracks.json").read_text())
    assert [(t["first_s"], t["last_s"]) for t in doc["tracks"]] == tracks


def test_every_frame_and_max_seconds(tiny_model_dir: Path, one_face_clip: Path, tmp_path: Path) -> None:
    """--every-frame samples all 10 frames a second; --max-seconds stops at that time."""
    assert run(tiny_model_dir, one_face_clip, "--out", tmp_path, "--every-frame", "--max-seconds", "2") == 0
    doc = json.loads((tmp_path / "tracks.json").read_text())
    assert doc["video"]["frames_sampled"] == 20 and doc["video"]["stopped_by"] == "max_seconds"
    assert [r["frame"] for r in rows(tmp_path)] == [str(i) for i in range(20)]


def test_folder_of_videos_goes_on_past_a_broken_one(
    tiny_model_dir: Path, clip_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Every video of a folder gets its own output folder; a broken file is reported, exit 1."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(make_clip(clip_dir, "cli", videos.one_face(1.0)), folder / "a.avi")
    shutil.copy(make_clip(clip_dir, "cli", videos.one_face(1.0), "mp4-h264"), folder / "sub" / "b.mp4")
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    (folder / "notes.txt").write_text("ignored: not a video extension")
    assert run(tiny_model_dir, folder, "--out", tmp_path / "out") == 1
    assert sorted(
        p.parent.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("tracks.json")
    ) == [
        "a",
        "sub/b",
    ]
    captured = capsys.readouterr()
    assert "broken.mp4: error: OpenCV cannot open this video" in captured.err
    assert "a.avi: 4 frames sampled" in captured.out


def test_bad_arguments_exit_2(tiny_model_dir: Path, one_face_clip: Path) -> None:
    """An even median window or a missing folder is refused before any work."""
    with pytest.raises(SystemExit) as exited:
        run(tiny_model_dir, one_face_clip, "--window", "4")
    assert exited.value.code == 2
    assert run(tiny_model_dir, Path("/nonexistent-folder-of-videos")) == 2


def test_cli_labels_equal_predict_on_the_same_frame(
    tiny_model_dir: Path, two_faces_clip: Path, tmp_path, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI crops with the model's policy like the service: frames.csv matches /predict frame by frame."""
    monkeypatch.setenv(
        "INFERENCE_BACKEND", "tensorflow"
    )  # the test app's runtime (auto may pick OpenVINO bf16)
    from tests.synthetic import encode
    from tests.videos import decoded_frames

    assert run(tiny_model_dir, two_faces_clip, "--out", tmp_path, "--smooth", "none") == 0
    frames = decoded_frames(two_faces_clip)
    classes = json.loads((tiny_model_dir / "metadata.json").read_text())["class_names"]
    by_frame: dict[int, list[dict[str, str]]] = {}
    for row in rows(tmp_path):
        by_frame.setdefault(int(row["frame"]), []).append(row)
    for index, mine in by_frame.items():
        single = client.post("/predict", data=encode(frames[index]), content_type="image/png").json["faces"]
        assert [(int(r["x"]), int(r["y"])) for r in mine] == [(f["box"]["x"], f["box"]["y"]) for f in single]
        for row, face in zip(mine, single, strict=True):
            assert row["label"] == face["label"]
            assert [float(row[c]) for c in classes] == pytest.approx(
                [face["probabilities"][c] for c in classes], abs=1e-4
            )


def test_module_entry_point_runs() -> None:
    """`python -m service.video --help` (what make analyze-video runs) starts and documents the flags."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "service.video", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "--every-frame" in done.stdout and "--max-gap" in done.stdout
