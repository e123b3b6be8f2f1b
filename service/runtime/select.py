"""Which runtime serves the model: INFERENCE_BACKEND x INFERENCE_PRECISION resolved, loaded, or refused.

auto picks OpenVINO on a CPU-only host and TensorFlow when a GPU is visible; if OpenVINO
is missing or cannot convert the model, auto logs one line and serves with TensorFlow,
while an explicit INFERENCE_BACKEND=openvino raises BackendError (a non-zero exit before
the worker reports ready).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import cpu
from contract.modeldir import ModelDirError, read_metadata, resolve_version_dir
from service.runtime import gate
from service.runtime.cache import cache_dir, model_hash
from service.runtime.convert import ConversionError
from service.runtime.gpu import gpu_visible
from service.settings import Settings

log = logging.getLogger(__name__)
SUPPORTED = {"tensorflow": ("f32", "bf16"), "openvino": ("f32", "bf16", "int8")}


class BackendError(ModelDirError):
    """The requested runtime or precision cannot serve this model here."""


@dataclass(frozen=True)
class Choice:
    """A resolved backend and precision, and why."""

    backend: str
    precision: str
    reason: str


def auto_precision(backend: str, flags: frozenset[str], int8_passed: bool = False) -> str:
    """OpenVINO: int8 if a build passed the accuracy gate, else bf16 where the CPU does bf16 in
    hardware, else f32. TensorFlow: always f32."""
    if backend != "openvino":
        return "f32"
    if int8_passed:
        return "int8"
    return "bf16" if cpu.native_bf16(flags) else "f32"


def choose(settings: Settings, flags: frozenset[str], gpu: bool, int8_passed: bool = False) -> Choice:
    """Resolve the two settings; BackendError for a combination that cannot work."""
    backend = settings.inference_backend
    reason = "INFERENCE_BACKEND"
    if backend == "auto":
        backend, reason = ("tensorflow", "a GPU is visible") if gpu else ("openvino", "no GPU visible")
    precision = settings.inference_precision
    if precision == "auto":
        precision = auto_precision(backend, flags, int8_passed)
        why = {
            "int8": f"an int8 build within {gate.MAX_LOSS_POINTS} points of f32 is cached",
            "bf16": "native bf16 (" + ", ".join(f for f in cpu.BF16_FLAGS if f in flags) + ")",
            "f32": "no native bf16" if backend == "openvino" else "f32",
        }
        reason += f"; precision auto: {why[precision]}"
    elif precision not in SUPPORTED[backend]:
        raise BackendError(
            f"INFERENCE_PRECISION={precision} is not available with the {backend} backend "
            f"({reason}); it supports {', '.join(SUPPORTED[backend])}"
        )
    return Choice(backend, precision, reason)


def streams_for(settings: Settings, backend: str) -> int:
    """Concurrent model calls for this backend; BackendError when INFERENCE_STREAMS cannot be honoured."""
    threads = settings.intra_op_threads
    asked = settings.inference_streams
    if backend != "openvino":
        if asked > 1:
            raise BackendError(f"INFERENCE_STREAMS={asked} needs the openvino backend; {backend} runs 1")
        return 1
    if asked > threads:
        raise BackendError(
            f"INFERENCE_STREAMS={asked} exceeds the worker's {threads} model thread(s) "
            "(TF_THREADS, or the cores shared out over WORKERS): each stream needs one"
        )
    return asked


def runtime_info(predictor: Any) -> dict[str, str]:
    """{"backend", "precision", "device"} of any predictor (a test fake reports 'custom')."""
    return {
        "backend": str(getattr(predictor, "backend", "custom")),
        "precision": str(getattr(predictor, "precision", "unknown")),
        "device": str(getattr(predictor, "device", "unknown")),
    }


def load_predictor(settings: Settings) -> Any:
    """The predictor the settings ask for (or TensorFlow when auto cannot use OpenVINO), warmed up."""
    version_dir = resolve_version_dir(settings.model_dir)
    metadata = read_metadata(version_dir)
    flags = cpu.cpu_flags()
    root = cache_dir(settings.runtime_cache_dir)
    passed = settings.inference_precision == "auto" and gate.int8_is_default(root / model_hash(version_dir))
    choice = choose(settings, flags, gpu_visible(), passed)
    if choice.backend == "openvino":
        try:
            return _openvino(settings, version_dir, metadata, choice)
        except (ImportError, ConversionError, OSError) as exc:
            if settings.inference_backend == "openvino" or settings.inference_precision == "int8":
                what = (
                    f"INFERENCE_BACKEND={settings.inference_backend} INFERENCE_PRECISION={choice.precision}"
                )
                raise BackendError(f"{what}: OpenVINO cannot serve {version_dir}: {exc}") from None
            log.warning("INFERENCE_BACKEND=auto: OpenVINO unavailable (%s); serving with TensorFlow", exc)
            precision = "f32" if settings.inference_precision == "auto" else settings.inference_precision
            choice = Choice("tensorflow", precision, "fallback from OpenVINO")
            if settings.inference_streams > 1:  # asked of OpenVINO, which auto could not use
                log.warning("INFERENCE_STREAMS=%d ignored: TensorFlow runs 1", settings.inference_streams)
                settings = dataclasses.replace(settings, inference_streams=1)
    streams_for(settings, "tensorflow")  # refuses INFERENCE_STREAMS > 1 before TensorFlow loads
    return _tensorflow(settings, version_dir, choice)


def _openvino(settings: Settings, version_dir: Path, metadata: dict[str, Any], choice: Choice) -> Any:
    """Load through OpenVINO (imports it; ImportError when it is not installed)."""
    from service.model import check_contract, warm_up
    from service.runtime.openvino_backend import load_openvino, warm_sizes

    check_contract(metadata, version_dir)
    streams = streams_for(settings, "openvino")
    predictor = load_openvino(
        version_dir,
        metadata,
        precision=choice.precision,
        threads=settings.intra_op_threads,
        cache_root=cache_dir(settings.runtime_cache_dir),
        calibration_dir=settings.calibration_dir,
        streams=streams,
    )
    warm_up(predictor, warm_sizes(settings.batch_max_size))
    _log_choice(predictor, choice, settings)
    return predictor


def _tensorflow(settings: Settings, version_dir: Path, choice: Choice) -> Any:
    """Load the SavedModel signature itself with TensorFlow (GPU when one is visible)."""
    from service.devices import configure_devices
    from service.model import configure_tensorflow, warm_up
    from service.model import load_predictor as load_savedmodel

    configure_tensorflow(settings.intra_op_threads, bf16=choice.precision == "bf16")
    device = configure_devices()  # GPU memory growth must be set before the model touches the device
    predictor = load_savedmodel(version_dir)
    predictor.precision, predictor.device = choice.precision, device
    warm_up(predictor)
    _log_choice(predictor, choice, settings)
    return predictor


def _log_choice(predictor: Any, choice: Choice, settings: Settings) -> None:
    """The startup line that says what runs the model, on what CPU, and why."""
    flags = cpu.cpu_flags()
    log.info(
        "inference runtime: backend=%s precision=%s device=%s threads=%d streams=%d (%s; CPU %s, flags %s)",
        choice.backend,
        choice.precision,
        runtime_info(predictor)["device"],
        settings.intra_op_threads,
        getattr(predictor, "streams", 1),
        choice.reason,
        cpu.cpu_model(),
        ",".join(cpu.relevant_flags(flags)) or "none",
    )
