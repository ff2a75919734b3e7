"""Convolution arithmetic for the Design chapter's explorable, computed by PyTorch.

The explorable (``book/_static/fmnist/arithmetic.mjs``) computes, in the reader's browser,
the output side of a convolution, ``floor((n + 2p - d(k - 1) - 1) / s) + 1``, and the
receptive field of an output unit through the book's two conv blocks. This module
computes the same numbers for a table of settings with :func:`fmnist_edu.summary.summarize`,
which measures the sides by running real ``nn.Conv2d`` and ``nn.MaxPool2d`` layers, and
its writer (:func:`write`) puts the table into the built site (``arithmetic.json``) and
fails the build when the JavaScript gives other numbers (the browser check compares them
again in Chromium), so the book has one source of truth for the formula.

Two kinds of rows:

- ``"conv"``: one convolution on a small ``side`` x ``side`` grid (the explorable's grid);
- ``"blocks"``: the book's two blocks on the 28 x 28 image, each a convolution with the
  row's settings, a ReLU and a 2 x 2 max-pool (as :func:`fmnist_edu.models.build_features`
  builds them, with one channel: channels change no side and no field).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from fmnist_edu import summary
from fmnist_edu.errors import ConfigError, FmnistEduError
from fmnist_edu.models import IMAGE_SIDE

if TYPE_CHECKING:
    from fmnist_edu.web.assets import AssetContext

#: The file name of the table under the site's asset folder.
ASSET = "arithmetic.json"
#: The output side of a convolution (Dumoulin and Visin, 2016), as the explorable shows it.
FORMULA = "floor((n + 2p - d(k - 1) - 1) / s) + 1"
#: The settings the table covers: (kind, sides, kernels, strides, paddings, dilations).
GRID: tuple[tuple[Any, ...], ...] = (
    ("conv", (7,), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)),
    ("blocks", (IMAGE_SIDE,), (1, 3, 5, 7), (1, 2), (0, 1, 2, 3), (1, 2)),
)  # fmt: skip
KINDS = ("conv", "blocks")
_ROOT = Path(__file__).resolve().parents[2]
#: The explorable's source and its Node check, in a checkout (a wheel has neither).
MODULE = _ROOT / "book" / "_static" / "fmnist" / "arithmetic.mjs"
NODE_CHECK = _ROOT / "tools" / "web" / "checks" / "arithmetic.mjs"


class ArithmeticMismatch(FmnistEduError):
    """The explorable's JavaScript disagrees with :func:`table` (``fmnist_edu.summary``)."""


def layers(kind: str, kernel: int, stride: int, padding: int, dilation: int) -> nn.Sequential:
    """The layers a row of ``kind`` runs, with one channel, named as the book names them."""
    if kind not in KINDS:
        raise ConfigError(f"kind={kind!r}: choose one of {', '.join(KINDS)}")
    for name, value, least in (("kernel", kernel, 1), ("stride", stride, 1),
                               ("padding", padding, 0), ("dilation", dilation, 1)):  # fmt: skip
        if not isinstance(value, int) or value < least:
            raise ConfigError(f"{name}={value!r}: must be an integer of at least {least}")
    blocks = 1 if kind == "conv" else 2
    named: dict[str, nn.Module] = OrderedDict()
    for i in range(1, blocks + 1):
        named[f"conv{i}"] = nn.Conv2d(1, 1, kernel, stride, padding, dilation, bias=False)
        if kind == "blocks":
            named[f"relu{i}"] = nn.ReLU()
            named[f"pool{i}"] = nn.MaxPool2d(2)
    return nn.Sequential(named)


def row(kind: str, side: int, kernel: int, stride: int, padding: int, dilation: int) -> dict:
    """One table row: the settings, then each layer's side and field as ``summarize`` gives.

    ``layers`` lists the convolutions and pools (a ReLU changes no side and no field)
    that produce at least one output; for the two blocks, ``windows`` gives the image rows
    ``[first, last]`` (``None``: padding only) that pool2's first, middle and last units see
    (:func:`fmnist_edu.summary.unit_window`); when a layer would
    produce none, ``fails_at`` names it (PyTorch refuses to run it) and the layers after
    it are left out, as the explorable says "too small" there.
    """
    model = layers(kind, kernel, stride, padding, dilation)
    names = list(model._modules)
    done: list[summary.LayerInfo] = []
    fails_at = None
    for n in range(len(names), 0, -1):  # the longest prefix of layers that runs
        try:
            done = summary.summarize(model[:n], side=side)
        except RuntimeError:
            fails_at = names[n - 1]
            continue
        break
    out: dict[str, Any] = {"kind": kind, "side": side, "kernel": kernel, "stride": stride,
                           "padding": padding, "dilation": dilation}  # fmt: skip
    out["layers"] = [
        {
            "name": r.name,
            "side": r.output_shape[-1],
            "field": r.receptive_field,
            "extent": r.field_extent,
            "jump": r.jump,
            "start": r.field_start,
        }  # fmt: skip
        for r in done
        if r.kind != "ReLU"
    ]
    out["fails_at"] = fails_at if len(done) < len(names) else None
    if kind == "blocks" and out["fails_at"] is None:  # the image rows pool2's units see
        last = done[-1]
        units = sorted({0, last.output_shape[-1] // 2, last.output_shape[-1] - 1})
        windows = [(u, summary.unit_window(last, u, side)) for u in units]
        out["windows"] = [[u, list(w) if w else None] for u, w in windows]
    return out


def table() -> list[dict]:
    """Every row of :data:`GRID`, in order (136 rows)."""
    return [row(kind, *settings)
            for kind, *axes in GRID for settings in itertools.product(*axes)]  # fmt: skip


def asset() -> dict[str, Any]:
    """The site asset: the formula and :func:`table` (JSON-ready)."""
    return {"formula": FORMULA, "rows": table()}


def check_javascript(site: str | Path, module: str | Path = MODULE, node: str | None = None) -> str:
    """Compare the explorable's functions in ``module`` with ``site``'s ``arithmetic.json``.

    Runs :data:`NODE_CHECK` with Node (``node``, default the one on ``PATH``) and returns
    its summary line, or a note saying why nothing was checked (no Node, or no checkout).

    Raises:
        ArithmeticMismatch: naming ``module`` and its first difference from the table.
    """
    node = node or shutil.which("node")
    if node is None or not Path(module).is_file() or not NODE_CHECK.is_file():
        return "not checked: needs Node and the book's sources"
    done = subprocess.run([node, str(NODE_CHECK), str(site), str(module)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["(no output)"])[0]
        raise ArithmeticMismatch(f"{module}: differs from fmnist_edu.summary: {first}")
    return done.stdout.strip()


def write(ctx: AssetContext) -> dict[str, Any]:
    """The asset writer (``WRITERS["arithmetic"]``): ``arithmetic.json``; its manifest entry.

    Then checks the explorable's JavaScript against it (:func:`check_javascript`).

    Raises:
        ArithmeticMismatch: when the JavaScript gives other numbers than the table.
    """
    value = asset()
    ctx.write_json(ASSET, value)
    return {"file": ASSET, "settings": len(value["rows"]), "javascript": check_javascript(ctx.site)}
