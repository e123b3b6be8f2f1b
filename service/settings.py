"""Service settings: read once from the environment into a frozen, validated object.

Imported by gunicorn.conf.py in the master process, so it must stay free of
TensorFlow, OpenCV and Flask imports.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

DETECTORS = ("yunet", "haar")
# What runs YuNet: contract.detect.YUNET_RUNTIMES (not imported: the master stays free of cv2).
DETECTOR_RUNTIMES = ("auto", "native", "openvino")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
BATCHING_MODES = ("adaptive", "fixed", "off")
# What a rate-limited request gets while RATE_LIMIT_STORAGE (Redis) is unreachable.
RATE_LIMIT_FAILURE_MODES = ("open", "closed")
# auto: OpenVINO on a CPU-only host, TensorFlow when a GPU is visible (service/runtime/select.py).
INFERENCE_BACKENDS = ("auto", "tensorflow", "openvino")
# auto: bf16 where the CPU has AMX or AVX512_BF16, else f32; int8 needs a calibrated build (make quantize).
INFERENCE_PRECISIONS = ("auto", "f32", "bf16", "int8")
# WORKERS=0 never starts more than this many: each has its own batcher, so more split the batches thinner.
MAX_AUTO_WORKERS = 4
CORES_PER_WORKER = 2


class SettingsError(ValueError):
    """An environment variable has an invalid value."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; field NAME is read from environment variable NAME (upper case)."""

    model_dir: str = "models/emotion"
    host: str = "127.0.0.1"
    port: int = 8000
    # 0 = auto (worker_count): one per two cores, at most 4, when OpenVINO serves (a worker is ~200 MiB
    # and its Python work holds one GIL per worker); 1 on TensorFlow (~700 MiB each).
    workers: int = 0
    # One request occupies a gthread thread while it waits for its batch, so fewer threads than
    # BATCH_MAX_SIZE would cap every batch at THREADS (measured: mean batch 8.0 with 8 threads).
    threads: int = 32
    timeout: int = 60
    graceful_timeout: int = 30
    log_level: str = "info"
    api_key: str = ""
    max_upload_mb: float = 10.0
    max_pixels: int = 40_000_000
    max_batch_items: int = 16
    batch_max_size: int = 32
    batch_max_wait_ms: float = 10.0
    # adaptive: wait up to BATCH_MAX_WAIT_MS only while other requests are still preprocessing;
    # fixed: always wait; off: one face per model call (the baseline the benchmarks compare with).
    batching: str = "adaptive"
    batch_queue_size: int = 256
    inference_timeout_s: float = 30.0
    detector: str = "yunet"
    detector_confidence: float = 0.6
    # auto: YuNet on OpenVINO (the same detections at a fifth of the CPU, docs/photos.md), falling
    # back to the wheel's own build with a log line; an explicit choice that cannot run stops the start.
    detector_runtime: str = "auto"
    # YuNet looks again at up to this scale (1920 px cap) when the first pass finds no face: small
    # faces are its weak spot (docs/photos.md). 1 = one pass only.
    detector_retry_scale: float = 2.0
    # A third pass at this scale when the second also finds nothing (0 = none), and the smallest
    # box (shorter side, as a share of the photo's long side) the second and third passes keep:
    # enlarged texture fools YuNet at small sizes (docs/photos.md, chosen by make calibrate-retry).
    detector_third_scale: float = 3.0
    detector_retry_min_share: float = 0.05
    # The long side YuNet's first pass sees (larger photos are shrunk to it): its cost grows with the
    # area, and small faces are lost when it shrinks (docs/photos.md has both, measured). Default and
    # range are contract.detect's YUNET_MAX_SIDE(_RANGE), not imported so the master stays free of cv2.
    detector_max_side: int = 640
    # Detected faces whose shorter side is under this many pixels are not classified (counted as
    # detection.too_small): below it accuracy falls off (docs/photos.md has the measurement).
    min_face_size: int = 0
    rate_limit: str = ""
    # memory:// counts per worker process (the effective limit is RATE_LIMIT x WORKERS x replicas);
    # redis://host:6379/0 is one budget shared by every worker and replica (flask-limiter storage).
    rate_limit_storage: str = "memory://"
    # Storage down: open = serve the request unlimited, closed = 503; either way logged, never a 500.
    rate_limit_on_error: str = "open"
    # Slow clients (service/worker.py buffers each request before a thread sees it): seconds from
    # connection (or keep-alive wake-up) to the end of the request line and of the headers, and the
    # longest pause between two reads of the body. Past them: 408 and the connection closes.
    request_line_timeout_s: float = 10.0
    header_timeout_s: float = 20.0
    body_timeout_s: float = 30.0
    # Reverse proxies in front (nginx in compose = 1) whose X-Forwarded-For is trusted for the
    # client address; 0 = the socket peer, so a direct client cannot spoof its address.
    trusted_proxies: int = 0
    # POST /predict/video (issue 16): upload size, video length, frames analysed per request, and
    # the share of BATCH_QUEUE_SIZE that video frames may fill, so image requests always get in.
    max_video_mb: float = 50.0
    max_video_seconds: float = 60.0
    max_video_frames: int = 600
    video_queue_share: float = 0.25
    tf_threads: int = 0  # 0 = CPU cores / workers (the model's threads, TensorFlow or OpenVINO)
    inference_backend: str = "auto"
    inference_precision: str = "auto"
    # OpenVINO model calls that run at once in a worker, each on its share of the model threads and fed
    # by its own batcher thread. 1 gives a lone request every thread; 2 on 2 cores served 19-42% more
    # photos under load but doubled a lone crop's latency (docs/runtimes.md#streams). TensorFlow runs 1.
    inference_streams: int = 1
    # Converted/quantised models and compiled blobs, keyed by the SavedModel's hash; "" = ~/.cache or /tmp.
    runtime_cache_dir: str = ""
    # Face images that calibrate int8 at startup when no int8 build is cached ("" = refuse to start).
    calibration_dir: str = ""

    @property
    def intra_op_threads(self) -> int:
        """TensorFlow threads per worker: the cores shared out so workers don't oversubscribe them."""
        if self.tf_threads:
            return self.tf_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // self.worker_count)

    @property
    def worker_count(self) -> int:
        """WORKERS, or for 0 the auto rule above (decided without importing either runtime)."""
        if self.workers:
            return self.workers
        from service.runtime.plan import expected_backend

        if expected_backend(self.inference_backend) != "openvino":
            return 1
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        # One worker per two cores, each with two model threads. On 2 cores, 1 worker x 2 threads served
        # 44% more crops and 16% more photos than 2 x 1 (docs/runtimes.md): the kernel spreads
        # connections unevenly over workers, and a worker with one model thread cannot use a
        # neighbour's idle core. Detection releases the GIL, so one worker detects photos in parallel.
        return max(1, min(cores // CORES_PER_WORKER, MAX_AUTO_WORKERS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then environment variables, then keyword overrides; validated."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(field.name.upper())
            if raw is None or raw.strip() == "":
                continue
            values[field.name] = _convert(field.name, field.type, raw.strip())
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        """Reject values that would only fail later, far from their cause."""
        positive = (
            "port",
            "threads",
            "timeout",
            "max_upload_mb",
            "max_pixels",
            "max_batch_items",
            "batch_max_size",
            "batch_queue_size",
            "inference_timeout_s",
            "inference_streams",
            "request_line_timeout_s",
            "header_timeout_s",
            "body_timeout_s",
            "max_video_mb",
            "max_video_seconds",
            "max_video_frames",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name.upper()} must be > 0, got {getattr(self, name)}")
        for name in (
            "graceful_timeout",
            "batch_max_wait_ms",
            "tf_threads",
            "trusted_proxies",
            "min_face_size",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name.upper()} must be >= 0, got {getattr(self, name)}")
        if self.workers < 0:
            raise SettingsError(f"WORKERS must be >= 0 (0 = auto), got {self.workers}")
        if self.port > 65535:
            raise SettingsError(f"PORT must be <= 65535, got {self.port}")
        if self.detector not in DETECTORS:
            raise SettingsError(f"DETECTOR must be one of {', '.join(DETECTORS)}, got {self.detector!r}")
        if self.batching not in BATCHING_MODES:
            raise SettingsError(f"BATCHING must be one of {', '.join(BATCHING_MODES)}, got {self.batching!r}")
        if self.inference_backend not in INFERENCE_BACKENDS:
            raise SettingsError(
                f"INFERENCE_BACKEND must be one of {', '.join(INFERENCE_BACKENDS)}, "
                f"got {self.inference_backend!r}"
            )
        if self.inference_precision not in INFERENCE_PRECISIONS:
            raise SettingsError(
                f"INFERENCE_PRECISION must be one of {', '.join(INFERENCE_PRECISIONS)}, "
                f"got {self.inference_precision!r}"
            )
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        if self.detector_runtime not in DETECTOR_RUNTIMES:
            choices = ", ".join(DETECTOR_RUNTIMES)
            raise SettingsError(f"DETECTOR_RUNTIME must be one of {choices}, got {self.detector_runtime!r}")
        if not 0.0 < self.detector_confidence < 1.0:
            raise SettingsError(f"DETECTOR_CONFIDENCE must be in (0, 1), got {self.detector_confidence}")
        if not 1.0 <= self.detector_retry_scale <= 4.0:
            raise SettingsError(f"DETECTOR_RETRY_SCALE must be in [1, 4], got {self.detector_retry_scale}")
        if not 0.0 <= self.detector_retry_min_share < 1.0:
            raise SettingsError(
                f"DETECTOR_RETRY_MIN_SHARE must be in [0, 1), got {self.detector_retry_min_share}"
            )
        third = self.detector_third_scale
        if third != 0.0 and not self.detector_retry_scale < third <= 4.0:
            raise SettingsError(
                f"DETECTOR_THIRD_SCALE must be 0 (none) or in "
                f"(DETECTOR_RETRY_SCALE={self.detector_retry_scale:g}, 4], got {third:g}"
            )
        if not 160 <= self.detector_max_side <= 1280:
            raise SettingsError(f"DETECTOR_MAX_SIDE must be in [160, 1280] px, got {self.detector_max_side}")
        if not 0.0 < self.video_queue_share <= 1.0:
            raise SettingsError(f"VIDEO_QUEUE_SHARE must be in (0, 1], got {self.video_queue_share}")
        if self.batch_queue_size < self.batch_max_size:
            raise SettingsError("BATCH_QUEUE_SIZE must be >= BATCH_MAX_SIZE")
        if self.rate_limit:
            _check_rate_limit(self.rate_limit)
        _check_storage(self.rate_limit_storage)
        if self.rate_limit_on_error not in RATE_LIMIT_FAILURE_MODES:
            mode = self.rate_limit_on_error
            raise SettingsError(f"RATE_LIMIT_ON_ERROR must be open or closed, not {mode!r}")
        if self.header_timeout_s < self.request_line_timeout_s:
            raise SettingsError("HEADER_TIMEOUT_S must be >= REQUEST_LINE_TIMEOUT_S (the line is in it)")


def _convert(name: str, kind: object, raw: str) -> object:
    """Parse one environment string into the field's type."""
    kind = {"int": int, "float": float, "str": str}.get(str(kind), kind)
    if kind is str:
        lowered = ("detector", "log_level", "batching", "inference_backend", "inference_precision")
        return raw.lower() if name in lowered else raw
    try:
        return kind(raw)  # type: ignore[operator]
    except ValueError:
        raise SettingsError(f"{name.upper()} must be a number, got {raw!r}") from None


def _check_rate_limit(value: str) -> None:
    """Parse a flask-limiter string such as '100/minute' so typos fail at startup."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise SettingsError(f"RATE_LIMIT {value!r} is not a valid limit (e.g. '100/minute'): {exc}") from None


def _check_storage(uri: str) -> None:
    """A storage URI flask-limiter knows (memory://, redis://, rediss://, redis+sentinel://, ...)."""
    from limits.storage import SCHEMES

    scheme = uri.partition("://")[0]
    if "://" not in uri or scheme not in SCHEMES:
        known = ", ".join(sorted(f"{s}://" for s in SCHEMES if not s.startswith("async+")))
        raise SettingsError(f"RATE_LIMIT_STORAGE {uri!r} is not a storage URI; one of {known}")
