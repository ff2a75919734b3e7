"""Exports of a trained model, and how closely each reproduces eager PyTorch.

Two formats: TorchScript (``torch.jit.script``; the PyTorch documentation now marks
TorchScript deprecated in favour of ``torch.export``) and ONNX (``torch.onnx.export`` with
the ``torch.export``-based "dynamo" exporter, which needs ``onnxscript``), run by ONNX
Runtime. :func:`check_exports` writes both and compares their class probabilities with the
eager model's on real images: the largest absolute difference and whether every image
gets the same predicted class.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fmnist_edu.data import Split
from fmnist_edu.training import to_inputs

BATCH_DIM_MAX = 4096
"""Largest batch the ONNX graph accepts (its batch dimension is dynamic up to this)."""


def to_torchscript(model: nn.Module, path: str | Path) -> tuple[Path, str]:
    """Script ``model`` to ``path``; return the path and the warning torch gave (or ``""``)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripted = torch.jit.script(model.eval())
    scripted.save(str(path))
    said = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    return Path(path), said[0] if said else ""


def to_onnx(
    model: nn.Module, path: str | Path, output_names: tuple[str, ...] = ("logits",)
) -> Path:
    """Export ``model`` to one ONNX file at ``path`` (dynamo exporter, dynamic batch size).

    The graph takes ``x``, float32 ``[N, 1, 28, 28]`` in [0, 1], and returns logits
    ``[N, 10]``. ``external_data=False`` keeps the weights inside the one file.
    ``output_names``: one name per output of ``model`` (a model that returns a tuple,
    e.g. logits and intermediate feature maps, names each; the first stays ``logits``).
    """
    example = torch.zeros(2, 1, 28, 28)
    batch = torch.export.Dim("batch", min=1, max=BATCH_DIM_MAX)
    quiet = io.StringIO()  # the exporter prints its progress
    with contextlib.redirect_stdout(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            input_names=["x"],
            output_names=list(output_names),
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
    return Path(path)


def onnx_logits(path: str | Path, inputs: torch.Tensor) -> torch.Tensor:
    """Run the ONNX file at ``path`` on ``inputs`` with ONNX Runtime; return the logits."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = inputs.contiguous().numpy()
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x})[0])


@dataclass(frozen=True)
class Parity:
    """How an export compares with eager PyTorch on the same images."""

    name: str
    path: Path
    size_bytes: int
    max_abs_diff: float
    """Largest absolute difference of any class probability of any image."""
    agreeing: int
    """Images whose predicted class is the eager model's."""
    images: int
    note: str = ""
    """What the exporter warned, if anything (TorchScript: that it is deprecated)."""

    @property
    def same_predictions(self) -> bool:
        """True when every image gets the eager model's predicted class."""
        return self.agreeing == self.images


def parity(
    name: str, path: Path, reference: torch.Tensor, logits: torch.Tensor, note: str = ""
) -> Parity:
    """Compare ``logits`` with the eager model's ``reference`` logits (both ``[N, 10]``)."""
    p, q = torch.softmax(reference, dim=1), torch.softmax(logits, dim=1)
    agreeing = int((p.argmax(1) == q.argmax(1)).sum())
    diff = float((p - q).abs().max())
    return Parity(name, Path(path), Path(path).stat().st_size, diff, agreeing, len(p), note)


def check_exports(
    model: nn.Module, split: Split, folder: str | Path, onnx_file: str | Path | None = None
) -> dict[str, Parity]:
    """Export ``model`` both ways into ``folder`` and compare each with eager PyTorch.

    ``onnx_file``: an ONNX export of ``model`` made before (e.g. the one inside its
    archive) to check instead of exporting again.

    Returns :class:`Parity` records keyed ``"eager"`` (the ``state_dict`` as saved by
    ``torch.save``, for its size; difference 0 by definition), ``"torchscript"`` and
    ``"onnx"``, compared on every image of ``split``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    inputs = to_inputs(split.images).contiguous()
    with torch.inference_mode():
        reference = model(inputs)
    weights = folder / "model.pth"
    torch.save(model.state_dict(), weights)
    script_path, warned = to_torchscript(model, folder / "model.pt")
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # said once, by to_torchscript
        scripted = torch.jit.load(str(script_path))(inputs)
    onnx_path = Path(onnx_file) if onnx_file else to_onnx(model, folder / "model.onnx")
    return {
        "eager": parity("eager", weights, reference, reference),
        "torchscript": parity("torchscript", script_path, reference, scripted, warned),
        "onnx": parity("onnx", onnx_path, reference, onnx_logits(onnx_path, inputs)),
    }
