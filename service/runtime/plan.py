"""Which backend a worker will use, decided without importing a runtime (the master sizes itself by it)."""

from __future__ import annotations

from importlib.util import find_spec

from service.runtime.gpu import gpu_visible


def openvino_installed() -> bool:
    """Whether `import openvino` could succeed, without importing it (the master stays small)."""
    try:
        return find_spec("openvino") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken package
        return False


def expected_backend(requested: str) -> str:
    """INFERENCE_BACKEND resolved as a worker will resolve it, short of a failed conversion."""
    if requested != "auto":
        return requested
    return "openvino" if not gpu_visible() and openvino_installed() else "tensorflow"
