"""Settings: defaults, environment parsing and validation with clear messages."""

from __future__ import annotations

import pytest

from service.limits import Limits
from service.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    """An empty environment gives the documented defaults."""
    settings = Settings.from_env({})
    assert settings.model_dir == "models/emotion"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert Limits.from_settings(settings).image_bytes == 10 * 1024 * 1024
    assert settings.detector == "yunet"
    assert settings.api_key == "" and settings.rate_limit == ""
    assert settings.rate_limit_storage == "memory://" and settings.rate_limit_on_error == "open"
    assert (settings.request_line_timeout_s, settings.header_timeout_s, settings.body_timeout_s) == (
        10,
        20,
        30,
    )


def test_environment_values_are_parsed() -> None:
    """Numbers become numbers, names are case-insensitive, blanks mean the default."""
    settings = Settings.from_env(
        {
            "MODEL_DIR": "/m",
            "PORT": "9001",
            "WORKERS": "2",
            "MAX_UPLOAD_MB": "2.5",
            "DETECTOR": "HAAR",
            "BATCH_MAX_WAIT_MS": "0",
            "LOG_LEVEL": "DEBUG",
            "API_KEY": "s3cret",
            "RATE_LIMIT": "5/second",
            "THREADS": "  ",
        }
    )
    assert settings.model_dir == "/m" and settings.port == 9001 and settings.workers == 2
    assert Limits.from_settings(settings).image_bytes == int(2.5 * 1024 * 1024)
    assert settings.detector == "haar" and settings.log_level == "debug"
    assert settings.batch_max_wait_ms == 0 and settings.threads == Settings().threads
    assert settings.api_key == "s3cret" and settings.rate_limit == "5/second"


def test_settings_are_frozen() -> None:
    """Read once, never changed afterwards."""
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


def test_tf_threads_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker gets cores / workers TensorFlow threads, at least one."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    assert Settings(workers=2).intra_op_threads == 4
    assert Settings(workers=16).intra_op_threads == 1
    assert Settings(workers=2, tf_threads=3).intra_op_threads == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be a number"),
        ({"PORT": "0"}, "PORT must be > 0"),
        ({"PORT": "70000"}, "PORT must be <= 65535"),
        ({"WORKERS": "-1"}, "WORKERS must be >= 0"),
        ({"MAX_UPLOAD_MB": "0"}, "MAX_UPLOAD_MB must be > 0"),
        ({"BATCH_MAX_WAIT_MS": "-5"}, "BATCH_MAX_WAIT_MS must be >= 0"),
        ({"BATCH_MAX_SIZE": "64", "BATCH_QUEUE_SIZE": "8"}, "BATCH_QUEUE_SIZE must be >= BATCH_MAX_SIZE"),
        ({"DETECTOR": "mtcnn"}, "DETECTOR must be one of yunet, haar"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ({"DETECTOR_CONFIDENCE": "1.5"}, "DETECTOR_CONFIDENCE must be in"),
        ({"DETECTOR_RETRY_SCALE": "0.5"}, "DETECTOR_RETRY_SCALE must be in"),
        (
            {"DETECTOR_THIRD_SCALE": "2"},
            "DETECTOR_THIRD_SCALE must be 0 .none. or in .DETECTOR_RETRY_SCALE=2",
        ),
        ({"DETECTOR_THIRD_SCALE": "5"}, "DETECTOR_THIRD_SCALE must be 0"),
        ({"DETECTOR_RETRY_MIN_SHARE": "-1"}, r"DETECTOR_RETRY_MIN_SHARE must be in \[0, 1\)"),
        ({"DETECTOR_RETRY_MIN_SHARE": "1"}, r"DETECTOR_RETRY_MIN_SHARE must be in \[0, 1\)"),
        ({"DETECTOR_MAX_SIDE": "100"}, "DETECTOR_MAX_SIDE must be in"),
        ({"DETECTOR_RUNTIME": "onnx"}, "DETECTOR_RUNTIME must be one of"),
        ({"DETECTOR_MAX_SIDE": "2000"}, "DETECTOR_MAX_SIDE must be in"),
        ({"RATE_LIMIT": "lots"}, "RATE_LIMIT 'lots' is not a valid limit"),
        (
            {"RATE_LIMIT_STORAGE": "localhost:6379"},
            "RATE_LIMIT_STORAGE 'localhost:6379' is not a storage URI",
        ),
        ({"RATE_LIMIT_STORAGE": "redsi://host"}, "RATE_LIMIT_STORAGE 'redsi://host' is not a storage URI"),
        ({"RATE_LIMIT_ON_ERROR": "maybe"}, "RATE_LIMIT_ON_ERROR must be open or closed"),
        ({"REQUEST_LINE_TIMEOUT_S": "0"}, "REQUEST_LINE_TIMEOUT_S must be > 0"),
        ({"BODY_TIMEOUT_S": "-1"}, "BODY_TIMEOUT_S must be > 0"),
        (
            {"REQUEST_LINE_TIMEOUT_S": "30", "HEADER_TIMEOUT_S": "10"},
            "HEADER_TIMEOUT_S must be >= REQUEST_LINE",
        ),
    ],
)
def test_invalid_values_fail_with_the_variable_name(env: dict[str, str], message: str) -> None:
    """Each bad value names its variable, so the startup log says what to fix."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
