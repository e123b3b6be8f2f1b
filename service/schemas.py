"""Marshmallow schemas: request validation, response shapes and the OpenAPI document."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from contract.faces import DETECT_MODES


class PredictQuery(Schema):
    """Query parameters of /predict and /predict/batch."""

    class Meta:
        unknown = EXCLUDE

    detect = fields.String(
        load_default="auto",
        validate=validate.OneOf(DETECT_MODES),
        metadata={"description": "auto: small crops are classified whole; always; never"},
    )


class ImageJson(Schema):
    """JSON body of /predict."""

    image = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "base64 (or data: URL) of a jpeg, png, bmp or webp"},
    )


class BatchJson(Schema):
    """JSON body of /predict/batch (the item limit is checked in the view, against MAX_BATCH_ITEMS)."""

    images = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class ModelRef(Schema):
    """Which model answered."""

    name = fields.String()
    version = fields.String()


class Box(Schema):
    """A face box in pixels of the (EXIF-upright) image."""

    x, y, width, height = fields.Integer(), fields.Integer(), fields.Integer(), fields.Integer()


class Face(Schema):
    """One face and its emotion."""

    box = fields.Nested(Box)
    label = fields.String()
    confidence = fields.Float()
    probabilities = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "every class, in the model's class order"},
    )
    detection_score = fields.Float(
        allow_none=True, metadata={"description": "null when not from a scoring detector"}
    )
    face_size = fields.Integer(
        metadata={"description": "shorter side of the face box in pixels (filter small, unreliable faces)"}
    )
    sharpness = fields.Float(
        metadata={"description": "variance of the Laplacian of the 48x48 model input; low = blurred or tiny"}
    )


class Detection(Schema):
    """How faces were located."""

    mode = fields.String()
    detector = fields.String()
    used = fields.Boolean(metadata={"description": "false when the whole image was classified"})
    too_small = fields.Integer(
        metadata={"description": "detected faces left out because they are under MIN_FACE_SIZE pixels"}
    )


class ImageSize(Schema):
    """Decoded image size."""

    width, height = fields.Integer(), fields.Integer()


class PredictResponse(Schema):
    """Result for one image."""

    model = fields.Nested(ModelRef)
    image = fields.Nested(ImageSize)
    detection = fields.Nested(Detection)
    faces_found = fields.Boolean()
    faces = fields.List(fields.Nested(Face))


class ErrorBody(Schema):
    """code, message and (for 422) details."""

    code = fields.String()
    message = fields.String()
    details = fields.Raw()


class ErrorResponse(Schema):
    """Every error response."""

    error = fields.Nested(ErrorBody)


class BatchResponse(Schema):
    """One entry per input image, in input order: a PredictResponse or an ErrorResponse."""

    model = fields.Nested(ModelRef)
    results = fields.List(fields.Raw(), metadata={"description": "PredictResponse | ErrorResponse"})


class Runtime(Schema):
    """What runs the model (INFERENCE_BACKEND / INFERENCE_PRECISION after auto is resolved)."""

    backend = fields.String(metadata={"description": "openvino or tensorflow"})
    precision = fields.String(metadata={"description": "f32, bf16 or int8"})
    device = fields.String(metadata={"description": "CPU or GPU"})
    streams = fields.Integer(metadata={"description": "model calls that run at once (INFERENCE_STREAMS)"})


class Health(Schema):
    """Liveness and readiness."""

    status = fields.String()
    ready = fields.Boolean()
    model_version = fields.String(allow_none=True)
    runtime = fields.Nested(Runtime, allow_none=True)
    uptime_s = fields.Float()


class DetectorInfo(Schema):
    """What finds the faces (DETECTOR and DETECTOR_RUNTIME after auto is resolved)."""

    name = fields.String(metadata={"description": "yunet or haar"})
    runtime = fields.String(
        metadata={"description": "openvino/bf16, openvino/f32, native (YuNet) or opencv (Haar)"}
    )


class Metadata(Schema):
    """The model's metadata.json, as exported by training."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String()
    version = fields.String()
    class_names = fields.List(fields.String())
    input = fields.Dict()
    tta = fields.String(allow_none=True)
    # Per class, the bias the signature adds to the log probabilities (training.recall_floor);
    # absent when the model has none.
    class_bias = fields.Dict(keys=fields.String(), values=fields.Float())
    created = fields.String(allow_none=True)
    metrics = fields.Dict(allow_none=True)
    runtime = fields.Nested(Runtime)
    detector = fields.Nested(DetectorInfo)
