"""Request bodies for the endpoint: images in each content type, and a catalogue of bad ones.

The encoders take pixel values 0-255 as the dataset holds them (``uint8 [28, 28]`` or
``[N, 28, 28]``), which is what :mod:`fmnist_edu.deploy.inference` expects.
:func:`bad_requests` lists one request of every kind the endpoint must refuse, with the
status it must answer, so the book and the tests send the same ones.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from fmnist_edu.deploy import inference


def _images(images: np.ndarray) -> np.ndarray:
    array = np.asarray(images)
    if array.shape[-2:] != (28, 28) or array.ndim not in (2, 3):
        raise ValueError(f"images: expected [28, 28] or [N, 28, 28]; got {list(array.shape)}")
    return array


def to_json(images: np.ndarray) -> bytes:
    """A nested JSON array of the pixel values."""
    return json.dumps(_images(images).tolist()).encode()


def to_npy(images: np.ndarray) -> bytes:
    """The array in ``numpy.save``'s format (its dtype kept)."""
    buffer = io.BytesIO()
    np.save(buffer, _images(images), allow_pickle=False)
    return buffer.getvalue()


def to_csv(images: np.ndarray) -> bytes:
    """One row of 784 values per image, like the Kaggle CSV without its label column."""
    rows = _images(images).reshape(-1, 28 * 28)
    return "".join(",".join(map(str, row.tolist())) + "\n" for row in rows).encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def to_png(image: np.ndarray, colour: bool = False) -> bytes:
    """One image as an 8-bit PNG: greyscale, or RGB with ``colour`` (which the endpoint
    refuses). Written with :mod:`zlib` alone, every row unfiltered.
    """
    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim != 2:
        raise ValueError(f"image: expected [height, width]; got {list(pixels.shape)}")
    if colour:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2).reshape(pixels.shape[0], -1)
    height, width = pixels.shape[0], pixels.shape[1] // (3 if colour else 1)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if colour else 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw))
            + _chunk(b"IEND", b""))  # fmt: skip


ENCODERS = {
    inference.JSON: to_json,
    inference.NPY: to_npy,
    inference.CSV: to_csv,
    inference.PNG: to_png,
}
"""The encoder of each content type the endpoint reads."""


@dataclass(frozen=True)
class BadRequest:
    """One request the endpoint must refuse, and the status it must answer."""

    what: str
    body: bytes
    content_type: str
    status: int
    accept: str = "application/json"


def _npy_pickled(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([image.tolist()], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def bad_requests(image: np.ndarray) -> list[BadRequest]:
    """One request of each kind the endpoint refuses, built around a real ``image``."""
    image = np.asarray(image, dtype=np.uint8)
    good_json = to_json(image)
    nan = image.astype(np.float32)
    nan[0, 0] = np.nan
    bright = image.astype(np.int64)
    bright[14, 14] = 300
    label_column = b"9," + to_csv(image)
    too_many = np.repeat(image[None], inference.MAX_BATCH + 1, axis=0)
    limit = inference.MAX_BODY_BYTES
    J, N, C, P = inference.JSON, inference.NPY, inference.CSV, inference.PNG
    return [
        BadRequest("malformed JSON (cut short)", good_json[: len(good_json) // 2], J, 400),
        BadRequest("an empty body", b"", J, 400),
        BadRequest("wrong shape: 27 x 28", json.dumps(image[:27].tolist()).encode(), J, 400),
        BadRequest(
            "a flat list of 784 values", json.dumps(image.ravel().tolist()).encode(), J, 400
        ),
        BadRequest("NaN in an NPY array", to_npy(nan), N, 400),
        BadRequest("a pixel value of 300", to_json(bright), J, 400),
        BadRequest("pixel values scaled to 0-1", to_json(image / 255), J, 400),
        BadRequest("a pickled (object) NPY array", _npy_pickled(image), N, 400),
        BadRequest("a Python pickle sent as NPY", pickle.dumps(image), N, 400),
        BadRequest("CSV with the label column (785 values)", label_column, C, 400),
        BadRequest("a colour (RGB) PNG", to_png(image, colour=True), P, 400),
        BadRequest("content type text/plain", good_json, "text/plain", 415),
        BadRequest("Accept: text/html", good_json, J, 406, accept="text/html"),
        BadRequest(f"a batch of {len(too_many)} images", to_npy(too_many), N, 413),
        BadRequest(f"a body over {limit / 2**20:.0f} MiB", b" " * (limit + 1) + good_json, J, 413),
    ]
