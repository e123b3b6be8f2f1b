"""The OpenVINO predictor: the cached IR of the SavedModel, compiled for the CPU at a chosen precision."""

from __future__ import annotations

import logging
import os
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contract.modeldir import model_identity
from contract.openvino_config import compile_config
from service.runtime.cache import model_hash
from service.runtime.convert import ConversionError, ensure_ir
from service.runtime.quantize import int8_ir

log = logging.getLogger(__name__)


@dataclass
class OpenVINOPredictor:
    """Same contract as the SavedModel signature: uint8 [N,48,48,1] in, probabilities [N,K] out."""

    name: str
    version: str
    class_names: list[str]
    metadata: dict[str, Any]
    path: Path
    precision: str
    threads: int
    ir_path: Path
    _compiled: Any = field(repr=False)
    streams: int = 1  # calls that may run at once (INFERENCE_STREAMS): one infer request each
    backend: str = "openvino"
    device: str = "CPU"
    # An InferRequest is not reentrant: a caller takes one from the pool and blocks while all are busy,
    # so any number of threads (the batcher's callers, benchmarks, warm-up) may call predict_batch.
    _requests: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, repr=False)

    def __post_init__(self) -> None:
        for _ in range(self.streams):
            self._requests.put(self._compiled.create_infer_request())

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """uint8 faces [N,48,48,1] -> float32 probabilities [N,K], in calls of bucket sizes adding up to N."""
        images = np.ascontiguousarray(images, np.uint8)  # the model's input type; row slices stay contiguous
        request = self._requests.get()
        try:
            out, start = None, 0
            for size in split(len(images)):
                request.infer([images[start : start + size]], share_inputs=True)
                rows = request.get_output_tensor(0).data
                if out is None:  # shaped by the model's output, so warm-up can check it against the metadata
                    out = np.empty((len(images), *rows.shape[1:]), rows.dtype)
                out[start : start + size] = rows
                start += size
            return out if out is not None else np.zeros((0, len(self.class_names)), np.float32)
        finally:
            self._requests.put(request)


# The CPU plugin compiles and keeps kernels for every input shape it sees: with the batcher's every
# size from 1 to BATCH_MAX_SIZE a worker grew from 160 to 610 MiB under load and paid a compile on
# each new size, so only these shapes are ever run. A batch is split into them exactly rather than
# padded up to one: a padding row costs a whole image's compute (4.6 ms on bf16, 2 cores), an extra
# call about 0.3 ms, and the batcher's batches under load spread around BATCH_MAX_SIZE / 2 (a batch
# of 17 padded to 24 ran 45% longer than 16 + 1; docs/runtimes.md#batch-shapes).
BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)


def split(count: int) -> list[int]:
    """Bucket sizes, largest first, adding up to count exactly (greedy; 1 is a bucket, so it ends)."""
    sizes = []
    while count > 0:
        size = next(b for b in reversed(BUCKETS) if b <= count)
        sizes.append(size)
        count -= size
    return sizes


def warm_sizes(max_batch: int) -> tuple[int, ...]:
    """The buckets a batch of up to max_batch rows is split into: service.model.warm_up runs each once,
    so no request pays a shape's first compile."""
    return tuple(b for b in BUCKETS if b <= max_batch)


def _writable(folder: Path) -> bool:
    """Whether the folder exists (or can be made) and can be written to."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def load_openvino(
    version_dir: Path,
    metadata: dict[str, Any],
    *,
    precision: str,
    threads: int,
    cache_root: Path,
    calibration_dir: str = "",
    streams: int = 1,
) -> OpenVINOPredictor:
    """Convert (or reuse the cached conversion), compile with OpenVINO's blob cache, return the predictor
    (not warmed up: select.load_predictor runs service.model.warm_up over warm_sizes).

    Raises ImportError when openvino is not installed and ConversionError when the model cannot be used.
    """
    import openvino as ov

    model_cache = cache_root / model_hash(version_dir)
    ir = int8_ir(version_dir, model_cache, calibration_dir) if precision == "int8" else None
    ir = ir or ensure_ir(version_dir, model_cache)
    core = ov.Core()
    blobs = model_cache / "compiled"
    if _writable(blobs):  # compiled blobs: a restart skips compilation; a read-only cache only loses that
        core.set_property({"CACHE_DIR": str(blobs)})
    else:
        log.info("OpenVINO blob cache %s is not writable: compiling at every start", blobs)
    try:
        compiled = core.compile_model(str(ir), "CPU", compile_config(precision, threads, streams))
    except RuntimeError as exc:
        raise ConversionError(f"OpenVINO cannot compile {ir}: {exc}") from None
    effective = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    log.info(
        "OpenVINO %s compiled %s (%s, inference precision %s, %d stream(s))",
        ov.get_version(),
        ir,
        precision,
        effective,
        int(compiled.get_property("NUM_STREAMS")),
    )
    predictor = OpenVINOPredictor(
        **model_identity(metadata, version_dir),
        metadata=metadata,
        path=version_dir,
        precision=precision,
        threads=threads,
        ir_path=Path(ir),
        _compiled=compiled,
        streams=streams,
    )
    return predictor
