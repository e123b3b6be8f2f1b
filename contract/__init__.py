"""The image contract shared by training and serving: one owner, imported by both."""

from contract.image import (
    CHANNELS,
    DEFAULT_CLASS_NAMES,
    IMAGE_EXTENSIONS,
    IMAGE_SIZE,
    INPUT_DTYPE,
    INPUT_NAME,
    OUTPUT_NAME,
    SIGNATURE_NAME,
    ImageDecodeError,
    contract_dict,
    decode_image,
    load_face,
    to_model_input,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_CLASS_NAMES",
    "IMAGE_EXTENSIONS",
    "IMAGE_SIZE",
    "INPUT_DTYPE",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "SIGNATURE_NAME",
    "ImageDecodeError",
    "contract_dict",
    "decode_image",
    "load_face",
    "to_model_input",
]
