"""Face detectors: moved to the shared layer (contract.detect) so training uses the same ones."""

from contract.detect import Detection, Detector, HaarDetector, YuNetDetector, make_detector

__all__ = ["Detection", "Detector", "HaarDetector", "YuNetDetector", "make_detector"]
