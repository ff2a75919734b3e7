"""The archive's handler in process: every content type, every bad input, the contract."""

from __future__ import annotations

import io
import json
import struct
import sys
import types
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from deploy.conftest import expected_probabilities
from fmnist_edu import models
from fmnist_edu.deploy import archive, inference, payloads


def _answer(handler, model, body, content_type, accept="application/json"):
    data = handler.input_fn(body, content_type)
    text, media_type = handler.output_fn(handler.predict_fn(data, model), accept)
    assert media_type == "application/json"
    return json.loads(text)["predictions"]


@pytest.fixture(scope="module")
def torch_model(handler, model_dir):
    return handler.load_model(model_dir, "torch")


@pytest.mark.parametrize("content_type", list(payloads.ENCODERS))
def test_each_content_type_gives_eager_pytorchs_answer(
    handler, torch_model, cnn, images, content_type
):
    batch = images[:1] if content_type == inference.PNG else images
    body = payloads.ENCODERS[content_type](batch[0] if content_type == inference.PNG else batch)
    predictions = _answer(handler, torch_model, body, content_type)
    expected = expected_probabilities(cnn, batch)
    assert len(predictions) == len(batch)
    for answer, probs in zip(predictions, expected, strict=True):
        assert answer["label"] == int(probs.argmax())
        assert answer["class"] == inference.CLASS_NAMES[answer["label"]]
        assert np.allclose(answer["probabilities"], probs, atol=1e-6)
        assert abs(sum(answer["probabilities"]) - 1) < 1e-5


def test_one_image_strings_parameters_and_other_dtypes(handler, torch_model, cnn, images):
    expected = expected_probabilities(cnn, images[:1])[0]
    bodies = [
        (json.dumps(images[0].tolist()), "application/json"),  # str, as the toolkit decodes it
        (payloads.to_json(images[0]), "Application/JSON; charset=utf-8"),
        (payloads.to_npy(images[0].astype(np.float64)), inference.NPY),
        (payloads.to_npy(images[0].astype(np.int16)), inference.NPY),
        (payloads.to_npy(images[0].astype(np.float16)), inference.NPY),
        (b"pixel1,pixel2\n" + payloads.to_csv(images[0]), inference.CSV),  # a header row
    ]
    for body, content_type in bodies:
        (answer,) = _answer(handler, torch_model, body, content_type)
        assert np.allclose(answer["probabilities"], expected, atol=1e-6), content_type


def test_every_catalogued_bad_request_gets_its_status(handler, torch_model, images):
    for bad in payloads.bad_requests(images[0]):
        with pytest.raises(handler.RequestError) as caught:
            _answer(handler, torch_model, bad.body, bad.content_type, bad.accept)
        error = caught.value
        assert error.status_code == bad.status, bad.what
        assert error.phrase and error.message and str(error.status_code) in str(error)


def _status(handler, body, content_type=inference.JSON) -> int:
    with pytest.raises(handler.RequestError) as caught:
        handler.input_fn(body, content_type)
    return caught.value.status_code


def _png(pixels: np.ndarray, header=None, idat=None) -> bytes:
    header = header or struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    idat = idat if idat is not None else zlib.compress(raw)
    chunk = payloads._chunk
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _header(side: int = 28, depth: int = 8, colour: int = 0, interlace: int = 0) -> bytes:
    return struct.pack(">IIBBBBB", side, side, depth, colour, 0, 0, interlace)


BLANK = np.zeros((28, 28), np.uint8)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"Infinity", inference.JSON, 400),
        (json.dumps([[float("inf")] * 28] * 28).encode(), inference.JSON, 400),
        (json.dumps([[-1] * 28] * 28).encode(), inference.JSON, 400),
        (json.dumps([[True] * 28] * 28).encode(), inference.JSON, 400),
        (json.dumps([[10**30] * 28] * 28).encode(), inference.JSON, 400),
        (json.dumps({"instances": [[0] * 28] * 28}).encode(), inference.JSON, 400),
        (b"[" * 100_000 + b"]" * 100_000, inference.JSON, 400),
        (b"[[1, 2], [3]]", inference.JSON, 400),
        (b"\xff\xfe\x00", inference.JSON, 400),
        (payloads.to_npy(np.zeros((0, 28, 28))), inference.NPY, 400),
        (_npy(np.zeros((300, 5, 5))), inference.NPY, 400),  # many, but not images: 400
        (_npy(np.zeros((300, 28, 28), dtype=np.uint8)), inference.NPY, 413),
        (payloads.to_npy(np.zeros((28, 28), dtype=complex)), inference.NPY, 400),
        (payloads.to_npy(np.zeros((28, 28), dtype=bool)), inference.NPY, 400),
        (payloads.to_npy(np.zeros((2, 28, 28)))[:-100], inference.NPY, 400),
        (b"\x93NUMPY\x01\x00" + b"garbage", inference.NPY, 400),
        (b"pixel1,pixel2\n", inference.CSV, 400),
        (b",".join([b"x"] * 784), inference.CSV, 400),
        (b"\xff" * 10, inference.CSV, 400),
        (b"GIF89a", inference.PNG, 400),
        (_png(BLANK)[:40], inference.PNG, 400),
        (_png(BLANK, header=_header(side=32)), inference.PNG, 400),
        (_png(BLANK, header=_header(depth=16)), inference.PNG, 400),
        (_png(BLANK, header=_header(interlace=1)), inference.PNG, 400),
        (_png(BLANK, idat=zlib.compress(b"\x00" * 10**6)), inference.PNG, 400),
        (_png(BLANK, idat=b"not zlib"), inference.PNG, 400),
        (_png(BLANK, idat=zlib.compress(b"\x07" * 812)), inference.PNG, 400),
        (payloads.to_json(BLANK), None, 415),
        (payloads.to_json(BLANK), "application/octet-stream", 415),
    ],
)
def test_more_bad_inputs_are_4xx(handler, body, content_type, status):
    assert _status(handler, body, content_type) == status


def test_a_png_with_a_broken_crc_is_refused(handler):
    body = bytearray(_png(BLANK))
    body[30] ^= 0xFF  # inside the IHDR chunk
    assert _status(handler, bytes(body), inference.PNG) == 400


def _filtered_png(pixels: np.ndarray, kinds: list[int]) -> bytes:
    """A PNG whose row y uses filter ``kinds[y % len(kinds)]`` (a reference encoder)."""
    rows, above = [], np.zeros(28, dtype=np.int64)
    for y, row in enumerate(pixels.astype(np.int64)):
        kind = kinds[y % len(kinds)]
        left = np.concatenate([[0], row[:-1]])
        corner = np.concatenate([[0], above[:-1]])
        if kind == 0:
            out = row
        elif kind == 1:
            out = row - left
        elif kind == 2:
            out = row - above
        elif kind == 3:
            out = row - (left + above) // 2
        else:
            p = left + above - corner
            pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
            out = row - np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, corner))
        rows.append(bytes([kind]) + (out % 256).astype(np.uint8).tobytes())
        above = row
    return _png(pixels, idat=zlib.compress(b"".join(rows)))


@pytest.mark.parametrize("kinds", [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]])
def test_png_rows_with_every_filter_decode_exactly(handler, images, kinds):
    for image in images[:3]:
        decoded = handler.input_fn(_filtered_png(image, kinds), inference.PNG)
        assert np.array_equal(np.rint(decoded[0, 0] * 255).astype(np.uint8), image)


def test_pngs_written_by_pillow_decode_exactly(handler, images):
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=True)
        decoded = handler.input_fn(buffer.getvalue(), inference.PNG)
        assert np.array_equal(np.rint(decoded[0, 0] * 255).astype(np.uint8), image)


@pytest.mark.parametrize(
    "accept",
    [None, "", "*/*", "application/json", "application/*", "text/html, application/json;q=0.9"],
)
def test_accept_headers_that_allow_json(handler, accept):
    text, media_type = handler.output_fn(np.full((1, 10), 0.1, dtype=np.float32), accept)
    assert media_type == "application/json" and json.loads(text)["predictions"][0]["label"] == 0


def test_model_fn_reads_the_backend_from_the_environment(handler, model_dir, monkeypatch, images):
    monkeypatch.setenv(inference.BACKEND_ENV, "onnx")
    onnx_model = handler.model_fn(str(model_dir))
    assert onnx_model.backend == "onnx"
    monkeypatch.delenv(inference.BACKEND_ENV)
    torch_model = handler.model_fn(str(model_dir))
    x = handler.input_fn(payloads.to_npy(images), inference.NPY)
    assert np.abs(onnx_model(x) - torch_model(x)).max() < 1e-5


class _Smuggled:
    """Unpickling this would run code: ``weights_only=True`` must refuse it."""

    def __reduce__(self):
        return (print, ("code ran while loading the weights",))


def test_model_fn_loads_weights_only(model_dir, tmp_path, handler):
    for name in ("code", "model.onnx"):
        target = tmp_path / name
        target.symlink_to(model_dir / name)
    torch.save({"payload": _Smuggled()}, tmp_path / "model.pth")
    with pytest.raises(handler.ModelFileError, match="model.pth: refused, .* call of print,"):
        handler.model_fn(str(tmp_path))


def test_errors_subclass_the_toolkit_error_when_it_is_importable(model_dir, monkeypatch):
    class BaseInferenceToolkitError(Exception):
        def __init__(self, status_code, message, phrase):
            self.status_code, self.message, self.phrase = status_code, message, phrase

    fake = types.ModuleType("sagemaker_inference")
    fake.errors = types.SimpleNamespace(BaseInferenceToolkitError=BaseInferenceToolkitError)
    monkeypatch.setitem(sys.modules, "sagemaker_inference", fake)
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", fake.errors)
    handler = archive.load_handler(model_dir)  # a fresh import sees the toolkit
    with pytest.raises(BaseInferenceToolkitError) as caught:
        handler.input_fn(b"[", inference.JSON)
    assert (caught.value.status_code, caught.value.phrase) == (400, "Bad Request")


@pytest.mark.parametrize(
    "name, options",
    [
        ("mlp", {}),
        ("mlp", {"hidden": (32,)}),
        ("cnn", {"kernel_size": 5, "depth": 2, "padding": "valid", "hidden": 16}),
        ("cnn", {"depth": 3, "hidden": 16}),
        ("cnn", {"convs_per_block": 2, "downsample": "stride"}),
        ("cnn", {"convs_per_block": 3, "depth": 1, "kernel_size": 5}),
        ("cnn", {"kernel_size": 3, "stride": 2, "depth": 1}),
    ],
)
def test_the_handler_rebuilds_every_architecture(name, options):
    torch.manual_seed(1)
    model = models.build_model(name, **options).eval()
    rebuilt = inference.build_network(archive.network_spec(model))
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(3, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(rebuilt.eval()(x), model(x))
