"""Occlusion saliency for the Interpretability chapter's live widget, checked against Captum.

The widget (``book/_static/fmnist/occlusion.mjs``) computes Occlusion
:cite:`zeiler2014visualizing` in the reader's browser with the exported CNN: it slides a
square of background (the baseline, 0) over the image, runs every occluded copy as one
batch, and gives each pixel the mean drop of the predicted class's logit over the patches
that cover it. This module computes the same maps at build time twice, with Captum (as
the chapter does, :func:`fmnist_edu.interpret.attribute`) and with ONNX Runtime on the
exported file by the widget's own algorithm (:func:`onnx_maps`), fails the build when they
differ past :data:`TOLERANCE`, and writes Captum's maps into the site (``occlusion.json``)
for the widget to show beside its own and for the browser check to compare with.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from fmnist_edu import interpret
from fmnist_edu.models import IMAGE_SIDE
from fmnist_edu.web.export import ParityError

if TYPE_CHECKING:
    from fmnist_edu.web.assets import AssetContext

ASSET = "occlusion.json"
_CHAPTER = interpret.METHODS["occlusion"].options
#: Patch side and step of each setting the widget offers: the chapter's own, and a finer
#: step with the same patch (overlapping patches: about 200 forward passes per map).
SETTINGS: dict[str, tuple[int, int]] = {
    "chapter": (_CHAPTER["sliding_window_shapes"][-1], _CHAPTER["strides"][-1]),
    "fine": (_CHAPTER["sliding_window_shapes"][-1], 2),
}
#: Largest difference between the two maps the build accepts (logit units).
TOLERANCE = 1e-4


def corners(window: int, stride: int, side: int = IMAGE_SIDE) -> list[tuple[int, int]]:
    """Top-left ``(row, column)`` of every patch position, row by row, as Captum slides it."""
    if not 1 <= window <= side or stride < 1:
        raise ValueError(
            f"window={window}, stride={stride}: need 1 <= window <= {side} and stride >= 1"
        )
    starts = range(0, side - window + 1, stride)
    return [(r, c) for r in starts for c in starts]


def occluded(image: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """Copies ``[P, 1, 28, 28]`` of one model input ``[1, 28, 28]``, each with a patch at 0."""
    places = corners(window, stride, image.shape[-1])
    copies = image.reshape(1, 1, *image.shape[-2:]).repeat(len(places), 1, 1, 1)
    for i, (r, c) in enumerate(places):
        copies[i, :, r : r + window, c : c + window] = interpret.BASELINE
    return copies


def mean_drops(base: float, logits: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Each pixel's mean of ``base - logits[p]`` over the patches ``p`` covering it: ``[28, 28]``.

    ``logits`` holds the target's logit for each occluded copy, in :func:`corners`' order;
    pixels no patch covers get 0. Sums in float32, the widget's and Captum's precision.
    """
    total = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    count = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    for (r, c), value in zip(corners(window, stride), logits, strict=True):
        total[r : r + window, c : c + window] += np.float32(base) - np.float32(value)
        count[r : r + window, c : c + window] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def captum_maps(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor, window: int,
                stride: int) -> torch.Tensor:  # fmt: skip
    """Captum's Occlusion maps of ``model`` (the chapter's call): ``float [B, 28, 28]``."""
    return interpret.attribute(model, inputs, "occlusion", target,
                               sliding_window_shapes=(1, window, window),
                               strides=(1, stride, stride))  # fmt: skip


def onnx_maps(path: str | Path, inputs: torch.Tensor, target: torch.Tensor, window: int,
              stride: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """The widget's algorithm on the ONNX file at ``path``: maps ``[B, 28, 28]`` and ms per map.

    Each image and its occluded copies run as one batch (the graph's ``logits`` only).
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    maps, spent = [], 0.0
    for image, cls in zip(inputs, target.tolist(), strict=True):
        batch = torch.cat([image[None], occluded(image, window, stride)]).numpy()
        start = time.perf_counter()
        logits = session.run(["logits"], {name: batch})[0][:, cls]
        maps.append(mean_drops(logits[0], logits[1:], window, stride))
        spent += time.perf_counter() - start
    return np.stack(maps), 1000 * spent / max(len(maps), 1)


def check(captum: torch.Tensor, onnx: np.ndarray, label: str,
          tolerance: float = TOLERANCE) -> float:  # fmt: skip
    """The largest difference between the two maps; ``ParityError`` past ``tolerance``."""
    diff = float(np.abs(captum.numpy() - onnx).max())
    if not diff <= tolerance:
        raise ParityError(f"occlusion ({label}): ONNX Runtime's maps differ from Captum's by "
                          f"{diff:.3g} (more than {tolerance:g})")  # fmt: skip
    return diff


def encode(maps: torch.Tensor) -> str:
    """Maps as base64 of little-endian float32, row-major (the widget decodes it)."""
    return base64.b64encode(maps.numpy().astype("<f4").tobytes()).decode("ascii")


def records(model: nn.Module, onnx_path: str | Path, inputs: torch.Tensor) -> dict[str, Any]:
    """Captum's maps of every setting for ``inputs``, checked against ONNX Runtime (JSON-ready).

    The target of each image is ``model``'s prediction, as in the chapter's figure.

    Raises:
        ParityError: when ONNX Runtime's maps differ from Captum's past :data:`TOLERANCE`.
    """
    with torch.no_grad():
        target = model(inputs).argmax(1)
    out: dict[str, Any] = {"baseline": interpret.BASELINE, "targets": target.tolist(),
                           "tolerance": TOLERANCE, "settings": {}}  # fmt: skip
    for label, (window, stride) in SETTINGS.items():
        reference = captum_maps(model, inputs, target, window, stride)
        mine, ms = onnx_maps(onnx_path, inputs, target, window, stride)
        out["settings"][label] = {
            "window": window,
            "stride": stride,
            "passes": len(corners(window, stride)),
            "captum": encode(reference),
            "max_abs_diff_onnxruntime": check(reference, mine, label),
            "onnxruntime_ms_per_map": round(ms, 2),
        }
    return out


def write(ctx: AssetContext) -> dict[str, Any]:
    """The asset writer (``WRITERS["occlusion"]``): ``occlusion.json`` for the widget's images."""
    value = records(ctx.modules()["cnn"], ctx.onnx["cnn"], ctx.inputs())
    ctx.write_json(ASSET, value)
    diffs = {k: s["max_abs_diff_onnxruntime"] for k, s in value["settings"].items()}
    return {"file": ASSET, "images": len(value["targets"]), "max_abs_diff_onnxruntime": diffs}
