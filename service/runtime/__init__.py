"""Inference runtimes behind the `Predictor` protocol: TensorFlow (the SavedModel itself) and OpenVINO.

`select.load_predictor(settings)` picks the backend and precision (INFERENCE_BACKEND,
INFERENCE_PRECISION), converts and caches what OpenVINO needs, and falls back to
TensorFlow when `auto` cannot use the optimised runtime. Nothing here imports
TensorFlow at module level: an OpenVINO worker never loads it.
"""
