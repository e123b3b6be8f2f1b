"""Every training CLI: a user's mistake is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from training import (
    calibrate_crop,
    carry,
    choose_tta,
    ensemble,
    evaluate,
    export,
    model_card,
    predict,
    recall_floor,
    train,
    tune,
)
from training.cli import command

MISSING = "/nonexistent/emotion-test"

# (cli, argv, what the one line says); the dataset placeholder {data} is the tiny dataset.
CASES = [
    (train.main, ["--config", f"{MISSING}.toml"], "cannot read config file"),
    (train.main, ["--data-dir", MISSING, "--run-dir", "{tmp}/run"], "does not exist"),
    (export.main, ["--checkpoint", "a.keras", "--epochs", "0"], "must be positive"),
    (
        export.main,
        ["--checkpoint", f"{MISSING}.keras", "--data-dir", "{data}", "--run-dir", "{tmp}/run"],
        "cannot load checkpoint",
    ),
    (ensemble.main, ["--member", "a.keras", "--member", "b.keras", "--val-fraction", "0.9"], "val_fraction"),
    (ensemble.main, ["--member", "a.keras", "--data-dir", "{data}"], "at least twice"),
    (tune.main, ["--config", "{tmp}/bad.toml"], "cannot read config file"),
    (evaluate.main, ["--model-dir", MISSING, "--data-dir", "{data}"], "no SavedModel found"),
    (predict.main, ["--model", MISSING, "face.png"], "no SavedModel found"),
    (calibrate_crop.main, ["--data-dir", MISSING], "does not exist"),
    (model_card.main, [MISSING], "no SavedModel found"),
    (choose_tta.main, ["--checkpoint", f"{MISSING}.keras", "--data-dir", "{data}"], "no file"),
    (choose_tta.main, ["--checkpoint", "a.keras", "--candidates", "ten"], "unknown tta ten"),
    (recall_floor.main, ["--checkpoint", f"{MISSING}.keras", "--data-dir", "{data}"], "no file"),
    (recall_floor.main, ["--checkpoint", "a.keras", "--floor", "1.5"], "--floor must be in (0, 1)"),
    (export.main, ["--checkpoint", "a.keras", "--class-bias", "0,zero"], "class_bias must be numbers"),
    (export.main, ["--checkpoint", "a.keras", "--class-bias", "0,nan"], "must be finite"),
    (carry.main, ["save", "--run-dir", "{tmp}/run"], "save needs --out"),
    (carry.main, ["save", "--run-dir", "{tmp}/run", "--out", "{tmp}/out"], "has no backup to carry"),
    (carry.main, ["restore", "--run-dir", "{tmp}/run", "--from", MISSING], "not a folder written by"),
]


@pytest.mark.parametrize(
    ("cli", "argv", "message"),
    CASES,
    ids=[f"{cli.__module__.split('.')[-1]}-{i}" for i, (cli, _, _) in enumerate(CASES)],
)
def test_a_user_error_is_one_line_and_exit_code_2(
    cli: Callable[[list[str]], int],
    argv: list[str],
    message: str,
    tiny_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "bad.toml").write_text("epochs = [unclosed\n")
    filled = [a.format(data=tiny_dataset, tmp=tmp_path) for a in argv]
    assert cli(filled) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and message in line, line


def test_a_bug_keeps_its_traceback() -> None:
    """Only the typed errors (and OSError) become a message: anything else is a bug to see whole."""

    @command
    def broken(argv: list[str] | None = None) -> int:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        broken([])


@pytest.mark.parametrize(
    ("module", "code", "message"),
    [
        ("training.export", 2, "error: cannot read config file"),
        ("training.publish", 1, "python -m training.export"),
    ],
)
def test_make_export_runs_training_export(module: str, code: int, message: str) -> None:
    """`make export` is `python -m training.export`; the old module name says where the CLI went."""
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", module, "--checkpoint", "a.keras", "--config", f"{MISSING}.toml"]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    makefile = (root / "Makefile").read_text()
    assert "$(PY) -m training.export " in makefile
