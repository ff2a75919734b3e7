"""The SageMaker inference handler of an fmnist-edu model archive (``code/inference.py``).

:func:`fmnist_edu.deploy.archive.package` copies this file, unchanged, into every archive.
It imports only the standard library, numpy and torch, so it runs in the SageMaker PyTorch
container, which knows nothing of ``fmnist_edu``, and it implements that container's
handler contract: :func:`model_fn`, :func:`input_fn`, :func:`predict_fn`, :func:`output_fn`.

Requests carry pixel values 0-255, as in the dataset files: one image ``[28, 28]`` or a
batch ``[N, 28, 28]``, as ``application/json`` (a nested array), ``application/x-npy``
(``numpy.save``'s format, any integer or float dtype), ``text/csv`` (784 values a row,
as in the Kaggle CSV without its label column; a header row is skipped) or ``image/png``
(one 28 x 28 8-bit greyscale image). A request whose values all lie within 0-1, some of
them fractions, is refused with a hint: it was scaled for training, not sent as pixels.
The answer is ``application/json``::

    {"predictions": [{"label": 9, "class": "Ankle boot", "probabilities": [10 floats]}]}

A request the handler refuses raises :class:`RequestError`, which carries an HTTP status:
400 for a malformed body, a wrong shape, NaN or infinity, values outside 0-255 or scaled
to 0-1, or pickled data; 413 for a body over :data:`MAX_BODY_BYTES` or a batch over
:data:`MAX_BATCH` images; 415 for another content type; 406 for an ``Accept`` that
excludes JSON. Inside the SageMaker container it subclasses the inference toolkit's
``BaseInferenceToolkitError``, the one exception the toolkit turns into that status
instead of a 500.

A damaged archive stops :func:`model_fn` with a :class:`ModelFileError`: one line that
starts with the archive member at fault (``code/model.json``, ``model.pth``,
``model.onnx``) and says what is wrong with it.
"""

from __future__ import annotations

import http
import io
import json
import os
import pickle
import re
import struct
import warnings
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")  # fmt: skip
SIDE = 28
MAX_BATCH = 256
"""Most images in one request (413 above)."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest request body in bytes (413 above): room for 256 images in any content type."""
TORCHSCRIPT = "model.ts"
"""The member holding a model of the user's own, as TorchScript (``"format": "torchscript"``)."""
BACKEND_ENV = "FMNIST_EDU_BACKEND"
"""Environment variable that picks the backend of :func:`model_fn`: ``torch`` or ``onnx``."""
JSON, NPY, CSV, PNG = "application/json", "application/x-npy", "text/csv", "image/png"
CONTENT_TYPES = (JSON, NPY, CSV, PNG)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

try:  # inside the SageMaker container: the exception its toolkit maps to a status code
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError
except ImportError:  # anywhere else: the same three fields

    class _ToolkitError(Exception):
        def __init__(self, status_code: int, message: str, phrase: str) -> None:
            self.status_code, self.message, self.phrase = status_code, message, phrase
            super().__init__(status_code, message, phrase)


class RequestError(_ToolkitError):
    """A request refused with an HTTP status (4xx): ``status_code``, ``message``, ``phrase``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, message, http.HTTPStatus(status_code).phrase)

    def __str__(self) -> str:
        return f"{self.status_code} {self.phrase}: {self.message}"


class ModelFileError(ValueError):
    """A file of the archive cannot give the model; the message starts with its name."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


_LAYERS = {
    "Conv2d": lambda s: nn.Conv2d(s["in"], s["out"], s["kernel"], s["stride"], s["padding"]),
    "MaxPool2d": lambda s: nn.MaxPool2d(s["kernel"], s["stride"]),
    "ReLU": lambda s: nn.ReLU(),
    "Flatten": lambda s: nn.Flatten(),
    "Linear": lambda s: nn.Linear(s["in"], s["out"]),
    "Dropout": lambda s: nn.Dropout(s["p"]),
}


def build_network(spec: dict) -> nn.Module:
    """Build the untrained network ``spec`` (``code/model.json``'s ``network``) describes.

    ``spec`` is ``{"layers": [layer, ...]}``, applied in order, where a layer is
    ``{"name": ..., "type": "Conv2d", ...}`` (see ``_LAYERS``) or ``{"name": ...,
    "layers": [...]}``. The names are those of the trained model, so its ``state_dict``
    loads unchanged. A spec that lacks a key or has a value of the wrong type raises
    :class:`ModelFileError` naming ``code/model.json`` and the layer.
    """
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list):
        raise ModelFileError('code/model.json: a network must be {"layers": [...]}')
    children: dict[str, nn.Module] = OrderedDict()
    for layer in layers:
        name = layer.get("name") if isinstance(layer, dict) else None
        if not isinstance(name, str):
            raise ModelFileError(
                f"code/model.json: a layer must be an object with a name: {layer!r}"
            )
        if "layers" in layer:
            children[name] = build_network(layer)
        elif layer.get("type") in _LAYERS:
            children[name] = _layer(name, layer)
        else:
            raise ModelFileError(
                f"code/model.json: layer {name!r} has an unknown type {layer.get('type')!r}"
            )
    return nn.Sequential(children)


def _layer(name: str, layer: dict) -> nn.Module:
    where = f"code/model.json: layer {name!r} ({layer['type']})"
    try:
        return _LAYERS[layer["type"]](layer)
    except KeyError as exc:
        raise ModelFileError(f"{where} lacks the key {exc.args[0]!r}") from None
    except (TypeError, ValueError, RuntimeError) as exc:  # a value of the wrong type or range
        raise ModelFileError(f"{where} has a wrong value ({_first_line(exc)})") from None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``[N, 10]`` logits, computed stably in float32."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class Classifier:
    """A loaded model: call it with float32 ``[N, 1, 28, 28]`` in [0, 1], get probabilities.

    ``backend`` is ``"torch"`` (the network from ``model.pth``) or ``"onnx"`` (ONNX Runtime
    on ``model.onnx``, which must be in the archive).
    """

    def __init__(self, model_dir: str | os.PathLike, backend: str = "torch") -> None:
        root = Path(model_dir)
        self.spec = _read_spec(root / "code" / "model.json")
        self.backend = backend
        if backend == "torch" and self.spec.get("format") == "torchscript":
            self.network = _load_torchscript(root / TORCHSCRIPT)
        elif backend == "torch":
            self.network = build_network(self.spec.get("network"))
            _load_weights(self.network, root / "model.pth")
            # channels-last: the layout oneDNN's CPU convolutions run fastest
            self.network.eval().to(memory_format=torch.channels_last)
        elif backend == "onnx":
            if not (root / "model.onnx").is_file():
                raise FileNotFoundError(f"{root / 'model.onnx'}: this archive has no ONNX model")
            import onnxruntime  # only this backend needs it

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            try:
                self.session = onnxruntime.InferenceSession(
                    str(root / "model.onnx"), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # ONNX Runtime's own exception types
                raise ModelFileError(
                    f"model.onnx: ONNX Runtime cannot load it ({_first_line(exc)})"
                ) from None
            self.input_name = self.session.get_inputs()[0].name
        else:
            raise ValueError(f"backend {backend!r}: choose 'torch' or 'onnx'")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if self.backend == "onnx":
            return softmax(self.session.run(None, {self.input_name: images})[0])
        with torch.inference_mode():
            x = torch.from_numpy(images)  # a model of the user's own may .view() its input
            if self.spec.get("format") != "torchscript":
                x = x.contiguous(memory_format=torch.channels_last)
            return torch.softmax(self.network(x), dim=1).numpy()


def _read_spec(path: Path) -> dict:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ModelFileError(f"code/model.json: not valid JSON ({_first_line(exc)})") from None
    if not isinstance(spec, dict):
        raise ModelFileError(f"code/model.json: must be an object, not {type(spec).__name__}")
    return spec


def _load_torchscript(path: Path) -> nn.Module:
    """Load a model of the user's own, saved as TorchScript (no Python class needed)."""
    try:
        with warnings.catch_warnings():  # torch 2.14 calls TorchScript deprecated
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # a missing or damaged member: torch's own error types
        raise ModelFileError(f"{path.name}: not a TorchScript model ({_first_line(exc)})") from None


def _load_weights(network: nn.Module, path: Path) -> None:
    """Load ``model.pth`` into ``network``, refusing anything but tensors of the right shapes."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:  # bytes the weights-only unpickler cannot parse
            lines = [line for line in str(exc).splitlines() if line.strip()] or ["unreadable"]
            detail = lines[-2:][0]  # torch's last line points to its documentation
            raise ModelFileError(f"model.pth: not a PyTorch weights file ({detail})") from None
        raise ModelFileError(
            f"model.pth: refused, it holds a pickled call of {found.group(1)}, not only tensors; "
            "torch.load(weights_only=True) stopped before running it"
        ) from None
    except Exception as exc:  # garbage: IndexError, KeyError, EOFError, RuntimeError, ...
        raise ModelFileError(
            f"model.pth: not a PyTorch weights file ({_first_line(exc)})"
        ) from None
    wanted = network.state_dict()
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError("model.pth: must be a state_dict (names -> tensors)")
    missing = [k for k in wanted if k not in state]
    extra = [k for k in state if k not in wanted]
    wrong = [k for k in wanted if k in state and state[k].shape != wanted[k].shape]
    for problem, names in (("lacks", missing), ("has unknown", extra), ("has misshapen", wrong)):
        if names:
            raise ModelFileError(
                f"model.pth: does not fit code/model.json's network; it {problem} "
                f"weights {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            )
    network.load_state_dict(state)


def load_model(model_dir: str | os.PathLike, backend: str = "torch") -> Classifier:
    """Load the archive's model for ``backend`` (what :func:`model_fn` does)."""
    return Classifier(model_dir, backend)


def model_fn(model_dir: str) -> Classifier:
    """SageMaker: load the model; the backend comes from ``FMNIST_EDU_BACKEND`` (torch)."""
    return load_model(model_dir, os.environ.get(BACKEND_ENV, "torch"))


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def _from_json(body: bytes) -> np.ndarray:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestError(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(value, list):
        raise RequestError(400, f"the JSON must be a nested array, not {type(value).__name__}")
    try:
        return np.asarray(value)
    except (ValueError, OverflowError) as exc:  # ragged lists, huge integers
        raise RequestError(
            400, f"the JSON array is not a regular grid of numbers ({exc})"
        ) from None


def _from_npy(body: bytes) -> np.ndarray:
    stream = io.BytesIO(body)
    try:  # read the header first: refuse object arrays and impossible shapes before loading
        version = np.lib.format.read_magic(stream)
        read = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if read is None:
            raise ValueError(f"NPY version {version} is not supported; numpy.save writes 1.0")
        shape, _, dtype = read(stream)
    except (ValueError, EOFError) as exc:
        raise RequestError(400, f"the body is not an NPY array ({exc})") from None
    if dtype.hasobject:
        raise RequestError(400, "the NPY array holds Python objects (pickled data): refused")
    _check_shape(shape)
    stream.seek(0)
    try:
        return np.load(stream, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise RequestError(400, f"the NPY array cannot be read ({exc})") from None


def _from_csv(body: bytes) -> np.ndarray:
    try:
        lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"the CSV is not UTF-8 text ({exc})") from None
    if lines and lines[0].lstrip().lower().startswith(("pixel", "label")):
        lines = lines[1:]  # a header row
    _check_shape((len(lines), SIDE, SIDE))
    rows = []
    for number, line in enumerate(lines, start=1):
        cells = line.split(",")
        if len(cells) != SIDE * SIDE:
            raise RequestError(
                400,
                f"CSV row {number} has {len(cells)} values; each row needs "
                f"{SIDE * SIDE} pixel values (no label column)",
            )
        try:
            rows.append([float(c) for c in cells])
        except ValueError as exc:
            raise RequestError(400, f"CSV row {number}: {exc}") from None
    return np.array(rows, dtype=np.float64).reshape(-1, SIDE, SIDE)


def _unfilter(raw: bytes) -> np.ndarray:
    """Undo the PNG row filters (0 none, 1 sub, 2 up, 3 average, 4 Paeth) of 8-bit grey."""
    pixels = np.zeros((SIDE, SIDE), dtype=np.uint8)
    above = [0] * SIDE
    for y in range(SIDE):
        kind, row = raw[y * (SIDE + 1)], list(raw[y * (SIDE + 1) + 1 : (y + 1) * (SIDE + 1)])
        if kind > 4:
            raise RequestError(400, f"PNG row {y} has an unknown filter type {kind}")
        for x in range(SIDE):
            left, up, corner = (row[x - 1], above[x], above[x - 1]) if x else (0, above[x], 0)
            if kind == 1:
                row[x] = (row[x] + left) & 255
            elif kind == 2:
                row[x] = (row[x] + up) & 255
            elif kind == 3:
                row[x] = (row[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[x] = (row[x] + guess) & 255
        pixels[y], above = row, row
    return pixels


def _from_png(body: bytes) -> np.ndarray:
    if not body.startswith(_PNG_SIGNATURE):
        raise RequestError(400, "the body is not a PNG file (wrong signature)")
    header, data, pos = None, [], len(_PNG_SIGNATURE)
    while pos < len(body):
        if pos + 12 > len(body):
            raise RequestError(400, "the PNG file is truncated")
        length, kind = struct.unpack(">I4s", body[pos : pos + 8])
        chunk, end = body[pos + 8 : pos + 8 + length], pos + 12 + length
        if (
            end > len(body)
            or zlib.crc32(kind + chunk) != struct.unpack(">I", body[end - 4 : end])[0]
        ):
            raise RequestError(400, f"the PNG chunk {kind!r} is truncated or fails its CRC")
        if kind == b"IHDR" and length == 13:
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            data.append(chunk)
        elif kind == b"IEND":
            break
        pos = end
    if header is None:
        raise RequestError(400, "the PNG file has no IHDR header")
    width, height, depth, colour, _, _, interlace = header
    if (width, height, depth, colour, interlace) != (SIDE, SIDE, 8, 0, 0):
        raise RequestError(
            400,
            f"the PNG must be {SIDE} x {SIDE}, 8-bit greyscale, not "
            f"interlaced; got {width} x {height}, bit depth {depth}, colour "
            f"type {colour}, interlace {interlace}",
        )
    expected = SIDE * (SIDE + 1)  # a filter byte, then the row
    try:  # never inflate more than one image's worth (a decompression bomb stops here)
        raw = zlib.decompressobj().decompress(b"".join(data), expected + 1)
    except zlib.error as exc:
        raise RequestError(400, f"the PNG image data cannot be inflated ({exc})") from None
    if len(raw) != expected:
        raise RequestError(400, f"the PNG image data holds {len(raw)} bytes, not {expected}")
    return _unfilter(raw)


_DECODERS = {JSON: _from_json, NPY: _from_npy, CSV: _from_csv, PNG: _from_png}


def _check_shape(shape: tuple[int, ...]) -> None:
    images = tuple(shape[-2:]) == (SIDE, SIDE) and len(shape) in (2, 3)
    if images and len(shape) == 3 and shape[0] > MAX_BATCH:
        raise RequestError(413, f"a batch of {shape[0]} images is over the limit of {MAX_BATCH}")
    if not images or 0 in shape:
        raise RequestError(
            400,
            f"expected one image [{SIDE}, {SIDE}] or a batch [N, {SIDE}, "
            f"{SIDE}] of pixel values; got shape {list(shape)}",
        )


def input_fn(request_body: bytes | str, request_content_type: str | None) -> np.ndarray:
    """SageMaker: decode and check a request; return float32 ``[N, 1, 28, 28]`` in [0, 1]."""
    media = _media_type(request_content_type)
    if media not in _DECODERS:
        raise RequestError(
            415,
            f"content type {request_content_type!r} is not supported; "
            f"send one of {', '.join(CONTENT_TYPES)}",
        )
    body = request_body.encode() if isinstance(request_body, str) else bytes(request_body)
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(
            413, f"the body has {len(body):,} bytes; the limit is {MAX_BODY_BYTES:,}"
        )
    if not body:
        raise RequestError(400, "the request body is empty")
    images = _DECODERS[media](body)
    if images.dtype.kind not in "iuf":
        raise RequestError(400, f"pixel values must be numbers; got dtype {images.dtype}")
    _check_shape(images.shape)
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise RequestError(400, "pixel values must be finite; the request holds NaN or infinity")
    low, high = images.min(), images.max()
    if low < 0 or high > 255:
        raise RequestError(400, f"pixel values must lie in 0-255; got {low} to {high}")
    if high <= 1 and images.dtype.kind == "f" and (images != np.round(images)).any():
        raise RequestError(  # all within 0-1, with fractions: scaled for training, not pixels
            400, "pixel values must be 0-255, not scaled to 0-1: multiply them by 255"
        )
    batch = images.reshape(-1, 1, SIDE, SIDE).astype(np.float32)
    return np.ascontiguousarray(batch / np.float32(255.0))


def predict_fn(input_data: np.ndarray, model: Classifier) -> np.ndarray:
    """SageMaker: class probabilities ``[N, 10]`` for the decoded images."""
    return model(input_data)


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[str, str]:
    """SageMaker: the JSON answer and its content type; 406 if ``accept`` excludes JSON."""
    ranges = [_media_type(part) for part in (accept or JSON).split(",")]
    if not {JSON, "*/*", "application/*"} & set(ranges):
        raise RequestError(406, f"cannot answer in {accept!r}; this endpoint answers {JSON}")
    predictions = [
        {
            "label": int(row.argmax()),
            "class": CLASS_NAMES[int(row.argmax())],
            "probabilities": [float(f"{p:.7g}") for p in row.tolist()],
        }
        for row in np.asarray(prediction, dtype=np.float32)
    ]
    return json.dumps({"predictions": predictions}), JSON
