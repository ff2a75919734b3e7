"""The chapters' own trained CNN and MLP, exported to ONNX for the browser and checked.

The models are the ones whose accuracy the Architectures chapter reports: the first seed
of the build's profile of ``Experiment(model="cnn")`` and ``Experiment(model="mlp")``,
read from the results store (trained when the store lacks them). The CNN's graph has two
extra outputs, the feature maps after its first and second convolution (after ReLU,
before pooling: ``conv1`` 32 x 28 x 28 and ``conv2`` 64 x 14 x 14), for the Inductive
bias chapter's shift widget. The export is :func:`fmnist_edu.deploy.export.to_onnx`, the
Deployment chapter's exporter; :func:`check_parity` runs each file with ONNX Runtime and
fails past :data:`TOLERANCE` from PyTorch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fmnist_edu import data as data_module
from fmnist_edu import experiments
from fmnist_edu.deploy.export import to_onnx
from fmnist_edu.errors import FmnistEduError
from fmnist_edu.experiments import Experiment
from fmnist_edu.settings import Profile
from fmnist_edu.store import ResultStore

MODELS = ("cnn", "mlp")
TAPS = {"relu1": "conv1", "relu2": "conv2"}
"""CNN layers whose outputs the exported graph also returns, and their output names."""
TOLERANCE = 1e-5
"""Largest difference between ONNX Runtime and PyTorch the build accepts (any output)."""


class ParityError(FmnistEduError):
    """An exported model disagrees with PyTorch beyond :data:`TOLERANCE`."""


@dataclass(frozen=True)
class ChapterModel:
    """One of the chapter's trained models, and which store entry it came from."""

    name: str
    experiment: Experiment
    store_key: str
    accuracy: float
    module: nn.Module


def chapter_models(
    dataset: data_module.FashionMNIST, store: ResultStore, profile: Profile
) -> dict[str, ChapterModel]:
    """The Architectures chapter's CNN and MLP of the profile's first seed, keyed by name."""
    found = {}
    for name in MODELS:
        experiment = dataclasses.replace(Experiment(model=name), seed=profile.seeds[0])
        if experiment.epochs != profile.epochs:  # Experiment() reads FMNIST_EDU_PROFILE
            experiment = dataclasses.replace(experiment, epochs=profile.epochs)
        result = experiments.run(experiment, dataset, store)
        key = store.key(experiment.config(), dataset.fingerprint)
        found[name] = ChapterModel(name, experiment, key, result.test.accuracy, result.model())
    return found


class Tapped(nn.Module):
    """A CNN that returns its logits and the outputs of the layers named in ``taps``."""

    def __init__(self, cnn: nn.Module, taps: tuple[str, ...] = tuple(TAPS)) -> None:
        super().__init__()
        self.features, self.classifier, self.taps = cnn.features, cnn.classifier, taps
        missing = set(taps) - {name for name, _ in cnn.features.named_children()}
        if missing:
            raise FmnistEduError(f"taps: the CNN has no layer {sorted(missing)[0]!r}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits ``[N, 10]``, then each tapped layer's output, in the layers' order."""
        tapped = []
        for name, layer in self.features.named_children():
            x = layer(x)
            if name in self.taps:
                tapped.append(x)
        return (self.classifier(x), *tapped)


def output_names(name: str) -> tuple[str, ...]:
    """The graph outputs of model ``name``: ``logits``, and the CNN's feature maps."""
    return ("logits", *TAPS.values()) if name == "cnn" else ("logits",)


def export(model: ChapterModel, path: str | Path) -> Path:
    """Export ``model`` to ``path`` (the CNN with its feature maps as extra outputs)."""
    module = model.module.eval()
    if model.name == "cnn":
        module = Tapped(module)
    return to_onnx(module, path, output_names(model.name))


def torch_outputs(model: ChapterModel, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """PyTorch's outputs for ``inputs`` ``[N, 1, 28, 28]``, named as the graph names them."""
    module = Tapped(model.module) if model.name == "cnn" else model.module
    with torch.inference_mode():
        out = module.eval()(inputs.contiguous())
    out = out if isinstance(out, tuple) else (out,)
    return dict(zip(output_names(model.name), out, strict=True))


def onnx_outputs(path: str | Path, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """ONNX Runtime's outputs of the file at ``path`` for ``inputs``, by output name."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {session.get_inputs()[0].name: inputs.contiguous().numpy()})
    return {n: torch.from_numpy(v) for n, v in zip(names, values, strict=True)}


def check_parity(
    model: ChapterModel, path: str | Path, inputs: torch.Tensor, tolerance: float = TOLERANCE
) -> float:
    """Largest difference between ONNX Runtime and PyTorch over every output and image.

    Class probabilities are compared (softmax of the logits), feature maps as they are.

    Raises:
        ParityError: naming the file and output when the difference exceeds ``tolerance``.
    """
    expected, got = torch_outputs(model, inputs), onnx_outputs(path, inputs)
    worst = 0.0
    for name, want in expected.items():
        have = got.get(name)
        if have is None or have.shape != want.shape:
            shape = None if have is None else tuple(have.shape)
            raise ParityError(f"{path}: output {name!r} is missing or shaped {shape}")
        if name == "logits":
            want, have = torch.softmax(want, 1), torch.softmax(have, 1)
        diff = float((want - have).abs().max())
        if not diff <= tolerance:
            raise ParityError(f"{path}: output {name!r} differs from PyTorch by {diff:.3g} "
                              f"(more than {tolerance:g})")  # fmt: skip
        worst = max(worst, diff)
    return worst
