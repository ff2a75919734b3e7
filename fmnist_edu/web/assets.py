"""Write the live widgets' files into a built site: engine, models, and each widget's data.

:func:`write_site_assets` is what the Sphinx extension ``book/_ext/fmnist_web.py`` calls
once the chapters have run. Into ``<site>/_static/fmnist/`` it copies the pinned engine
(``ort/``, see :mod:`fmnist_edu.web.engine`; skipped with a note when it is not
installed) and writes into ``assets/``: ``cnn.onnx`` and ``mlp.onnx`` (checked against
PyTorch, :mod:`fmnist_edu.web.export`), one file or more per entry of :data:`WRITERS`,
and ``manifest.json``, which tells the page what was built: whether the engine is there,
which store entry and commit each model came from, and every file's size.

A widget's build-time data comes from a writer: a function that takes the
:class:`AssetContext` and writes its files with :meth:`AssetContext.write_json`; what it
returns goes into the manifest under its name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fmnist_edu import data as data_module
from fmnist_edu import provenance, settings
from fmnist_edu.data import Split
from fmnist_edu.settings import Profile
from fmnist_edu.store import ResultStore, atomic_write
from fmnist_edu.training import to_inputs
from fmnist_edu.web import arithmetic, engine, occlusion, predictions
from fmnist_edu.web import export as web_export

STATIC = Path("_static") / "fmnist"
"""Where the widgets live in the built site (their JavaScript comes from ``book/_static``)."""


@dataclass
class AssetContext:
    """What a writer gets: where to write, and what the chapters trained."""

    site: Path
    """The built site's root (``_build/html``)."""
    folder: Path
    """``<site>/_static/fmnist/assets``: every writer writes here."""
    store: ResultStore
    profile: Profile
    dataset: data_module.FashionMNIST
    models: dict[str, web_export.ChapterModel]
    """The chapter's trained ``"cnn"`` and ``"mlp"`` (``.module`` is the PyTorch model)."""
    onnx: dict[str, Path]
    """The exported ONNX file of each model."""
    indices: list[int]
    """Positions in the test split of the widgets' test images."""
    images: Split
    """Those test images (``uint8``) and their labels."""
    commit: str
    written: dict[str, int] = field(default_factory=dict)
    """Every file written so far (relative to :attr:`folder`) and its size in bytes."""

    def modules(self) -> dict[str, nn.Module]:
        """The PyTorch models by name, in eval mode."""
        return {name: m.module.eval() for name, m in self.models.items()}

    def indices_tensor(self) -> torch.Tensor:
        """:attr:`indices` as a tensor of positions."""
        return torch.tensor(self.indices, dtype=torch.long)

    def inputs(self) -> torch.Tensor:
        """The test images as model inputs, float ``[N, 1, 28, 28]`` in [0, 1]."""
        return to_inputs(self.images.images).contiguous()

    def write_json(self, name: str, value: Any) -> Path:
        """Write ``value`` as ``<folder>/<name>`` (atomically); return its path."""
        path = self.folder / name
        text = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        atomic_write(path, lambda f: f.write(text))
        self.written[name] = path.stat().st_size
        return path


def _predict(ctx: AssetContext) -> dict[str, Any]:
    records = predictions.image_records(ctx.images, ctx.indices_tensor(), ctx.modules())
    ctx.write_json("images.json", records)
    return {"file": "images.json", "images": len(ctx.images)}


def _shift(ctx: AssetContext) -> dict[str, Any]:
    ctx.write_json("shift.json", predictions.shift_records(ctx.images, ctx.modules()))
    return {"file": "shift.json", "move": list(predictions.CHECK_SHIFT)}


Writer = Callable[[AssetContext], Any]
WRITERS: dict[str, Writer] = {
    "predict": _predict,
    "shift": _shift,
    "arithmetic": arithmetic.write,
    "occlusion": occlusion.write,
}
"""The widgets' build-time data, by widget name (web2 adds ``arithmetic`` and ``occlusion``)."""


def write_site_assets(
    site: str | os.PathLike,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    profile: Profile | None = None,
    node_modules: str | os.PathLike | None = None,
    writers: dict[str, Writer] | None = None,
) -> dict[str, Any]:
    """Write the engine, the models and every writer's files into ``site``; return the manifest.

    Raises:
        ParityError: when an exported model differs from PyTorch past the tolerance.
    """
    site = Path(site)
    root = site / STATIC
    folder = root / "assets"
    folder.mkdir(parents=True, exist_ok=True)
    dataset = dataset or data_module.load()
    store = store or ResultStore()
    profile = profile or settings.profile()
    manifest: dict[str, Any] = {"profile": profile.name, "engine": None, "sizes": {}}
    try:
        sizes = engine.copy_engine(root / "ort", node_modules)
        manifest["engine"] = {"version": engine.engine_version(node_modules), "files": sizes}
    except engine.EngineMissing as missing:
        manifest["engine_missing"] = str(missing)
    models = web_export.chapter_models(dataset, store, profile)
    indices = predictions.pick_images(dataset.test)
    ctx = AssetContext(
        site, folder, store, profile, dataset, models, {}, indices.tolist(),
        dataset.test.subset(indices), provenance.git_commit(),
    )  # fmt: skip
    manifest["models"] = {}
    for name, model in models.items():
        path = web_export.export(model, folder / f"{name}.onnx")
        ctx.onnx[name] = path
        ctx.written[path.name] = path.stat().st_size
        diff = web_export.check_parity(model, path, ctx.inputs())
        manifest["models"][name] = {
            "file": path.name,
            "store_key": model.store_key,
            "seed": model.experiment.seed,
            "epochs": model.experiment.epochs,
            "test_accuracy": model.accuracy,
            "commit": ctx.commit,
            "max_abs_diff_onnxruntime": diff,
        }
    manifest["writers"] = {name: write(ctx) for name, write in (writers or WRITERS).items()}
    manifest["sizes"] = dict(sorted(ctx.written.items()))
    ctx.write_json("manifest.json", manifest)
    return manifest


def site_growth(manifest: dict[str, Any], code_bytes: int) -> list[tuple[str, int]]:
    """What the live widgets add to the site, as ``(part, bytes)`` rows ending in the total.

    ``manifest`` is what :func:`write_site_assets` returned; ``code_bytes`` the size of the
    widgets' own JavaScript and CSS. The engine's row is absent when it was not installed.
    """
    sizes = manifest.get("sizes", {})
    rows = []
    if manifest.get("engine"):
        files = manifest["engine"]["files"]
        rows.append(("engine: ONNX Runtime Web " + manifest["engine"]["version"],
                     sum(files.values())))  # fmt: skip
    for name, model in manifest.get("models", {}).items():
        rows.append((f"model: {name.upper()} ({model['file']})", sizes.get(model["file"], 0)))
    models = {m["file"] for m in manifest.get("models", {}).values()}
    rows.append(("widget data (JSON)", sum(v for k, v in sizes.items() if k not in models)))
    rows.append(("widget code (JavaScript, CSS)", code_bytes))
    rows.append(("total", sum(size for _, size in rows)))
    return rows
