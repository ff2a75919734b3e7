"""Train the seeds of one design together, as one batched model (``torch.func``).

The seeds of a design differ only in their random numbers, so their weights can be
stacked (one tensor ``[S, ...]`` per parameter) and a step of all ``S`` seeds run as one
``torch.func.vmap`` of the model: a convolution becomes one grouped convolution, a linear
layer one batched matrix product, ``S`` times the work per GPU kernel launch. Each seed
trains as its solo run (:func:`fmnist_edu.training.train`) would, with

- **its own initial weights**: each seed's model is built as the solo run builds it;
- **the same batches**: each seed shuffles with its own CPU generator, seeded by its seed;
- **its own dropout masks**: each seed keeps its own copy of the state torch's global
  generator has in its solo run, and each step draws its masks from that state with
  ``torch.nn.functional.dropout`` (the solo run's draws, in its order);
- **its own augmentation** generator, seeded as in the solo run;
- **its own Adam**: Adam over the stacked weights is elementwise, so each seed has its own
  moments.

The batched kernels sum in another order than the solo ones, so a seed equals its solo
run within rounding, not bit for bit. After one step all but one in 100,000 weights are
within 1e-4 of the solo run's (the rest: a near-zero gradient whose sign rounding flips,
moved by twice the learning rate); then training amplifies the differences, most in the
CNN, whose max-pooling routes a gradient by comparing near-equal values:
``benchmarks/bench_batched.py`` prints the figures, ``tests/test_batched.py`` checks them.
A batched run is itself deterministic (same seeds, device and threads: same weights).
Validation and testing use each seed's own model. Only the book's models are batched
(:func:`supported`); a model of your own trains one seed at a time.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from tqdm import tqdm

from fmnist_edu import cuda_graph as graphs
from fmnist_edu import settings, training
from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError, DataError
from fmnist_edu.records import VALIDATION, EpochStats, History, validated_epochs

#: Where training seeds batched was measured to pay (``benchmarks/bench_batched.py``), so
#: where ``FMNIST_EDU_TRAINER=auto`` batches them. On a 2-core CPU neither model gains (CNN
#: 0.6, MLP 0.8-0.9 times the solo rate at batch 128). On a GPU it has not been measured
#: yet (``benchmarks/gpu_batched.sh`` does, on a lent GPU): until then ``auto`` trains
#: solo there too, and ``FMNIST_EDU_TRAINER=batched`` opts in.
PAYS: dict[str, tuple[str, ...]] = {"cuda": (), "cpu": ()}


class _Noise(nn.Module):
    """Stands in for a dropout layer: multiplies by the ``noise`` buffer it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("noise", torch.empty(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.noise


def _dropouts(model: nn.Module) -> list[tuple[str, float, tuple[int, ...]]]:
    """``(name, p, per-image input shape)`` of each dropout layer, in the order it runs."""
    seen: list[tuple[str, float, tuple[int, ...]]] = []
    meta = copy.deepcopy(model).to("meta").train()
    hooks = [
        m.register_forward_hook(
            lambda m, args, out, name=name: seen.append((name, m.p, tuple(args[0].shape[1:])))
        )
        for name, m in meta.named_modules()
        if isinstance(m, nn.Dropout)
    ]
    meta(torch.empty(1, 1, 28, 28, device="meta"))  # shapes only: nothing is drawn
    for hook in hooks:
        hook.remove()
    if len({name for name, _, _ in seen}) != len(seen):
        raise ConfigError("a dropout layer that runs twice per step cannot be batched")
    return seen


def _template(model: nn.Module) -> nn.Module:
    """A shape-only copy of ``model`` whose dropout layers read their masks as buffers."""
    template = copy.deepcopy(model).to("meta")
    for name, module in list(template.named_modules()):
        if isinstance(module, nn.Dropout):
            parent, _, child = name.rpartition(".")
            setattr(template.get_submodule(parent), child, _Noise())
    return template.train()


class _SeedRandom:
    """Each seed's copy of torch's global generator state (CPU, or CUDA on a GPU)."""

    def __init__(self, seeds: Sequence[int], device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        with self._kept():
            self.states = []
            for seed in seeds:
                training.seed_everything(seed)  # what the solo run does before training
                self.states.append(self._get())

    def _get(self) -> torch.Tensor:
        return torch.cuda.get_rng_state() if self.cuda else torch.get_rng_state()

    def _set(self, state: torch.Tensor) -> None:
        (torch.cuda.set_rng_state if self.cuda else torch.set_rng_state)(state)

    def _kept(self) -> contextlib.AbstractContextManager:
        """Leave the caller's global generators (CPU and GPU) as they were."""
        return torch.random.fork_rng(devices=[torch.cuda.current_device()] if self.cuda else [])

    def noise(self, layers: Sequence[tuple[str, float, tuple[int, ...]]], batch: int,
              device: torch.device) -> dict[str, torch.Tensor]:  # fmt: skip
        """Each seed's dropout masks for one step, ``name -> [batch, S, ...]``."""
        masks: dict[str, list[torch.Tensor]] = {name: [] for name, _, _ in layers}
        with self._kept():
            for s, state in enumerate(self.states):
                self._set(state)
                for name, p, shape in layers:  # dropout(ones) is the solo run's draw
                    ones = torch.ones((batch, *shape), device=device)
                    masks[name].append(F.dropout(ones, p, training=True))
                self.states[s] = self._get()
        return {f"{name}.noise": torch.stack(m, 1) for name, m in masks.items()}


class _Step:
    """One Adam step of every seed; per-seed loss and correct counts summed on the device.

    The seed axis is the second one (``images [B, S, 28, 28]``, ``labels [B, S]``), so that
    ``len()`` of a batch is its size, as :class:`fmnist_edu.cuda_graph.GraphedStep` expects.
    """

    def __init__(self, template: nn.Module, params: dict[str, torch.Tensor], lr: float,
                 device: torch.device) -> None:  # fmt: skip
        self.params, self.noise = params, {}
        seeds = next(iter(params.values())).shape[0]
        self.optimizer = torch.optim.Adam(params.values(), lr=lr, capturable=device.type == "cuda")

        def forward(p: dict, noise: dict, x: torch.Tensor) -> torch.Tensor:
            return functional_call(template, (p, noise), (x,))

        self.forward = vmap(forward, in_dims=(0, 1, 1))  # -> logits [S, B, 10]
        self.loss_sum = torch.zeros(seeds, dtype=torch.float64, device=device)
        self.correct = torch.zeros(seeds, dtype=torch.int64, device=device)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        x = images.unsqueeze(2).float().div_(255.0)  # [B, S, 1, 28, 28], as to_inputs
        logits = self.forward(self.params, self.noise, x)  # [S, B, 10]
        # Each seed's mean loss, from per-image losses: plain 1-D kernels (deterministic on
        # a GPU, where a batched mean-reduced loss may run as a 2-D one that is not).
        each = F.cross_entropy(logits.flatten(0, 1), labels.T.flatten(), reduction="none")
        losses = each.view(logits.shape[:2]).mean(1)  # [S]
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # seed s's weights get the gradient of its own loss only
        self.optimizer.step()
        self.loss_sum += losses.detach().double() * len(labels)
        self.correct += (logits.argmax(2) == labels.T).sum(1)

    def totals(self) -> tuple[list[float], list[int]]:
        """Per-seed sums since the last call, reset (one wait for the device)."""
        totals = self.loss_sum.tolist(), self.correct.tolist()
        self.loss_sum.zero_()
        self.correct.zero_()
        return totals


def _graphed(device: torch.device, cuda_graph: bool) -> bool:
    """Whether to replay full-size steps as a CUDA graph (tests swap this on a CPU)."""
    return cuda_graph and device.type == "cuda"


def _graph(step: _Step, images: torch.Tensor, labels: torch.Tensor) -> graphs.GraphedStep:
    """The graphed step (tests swap in a stand-in capture to try it on a CPU)."""
    return graphs.GraphedStep(step, images, labels)


def _stack(tensors: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """One tensor ``[S, ...]``; a tensor equal for every seed is expanded, not copied."""
    if all(t is tensors[0] or torch.equal(t, tensors[0]) for t in tensors):
        return tensors[0].to(device).expand(len(tensors), *tensors[0].shape)
    return torch.stack(list(tensors)).to(device)


def supported(models: Sequence[nn.Module], splits: Sequence[Split]) -> bool:
    """Whether these seeds' models and training splits can be trained as one batch."""
    shapes = {tuple((n, p.shape) for n, p in m.named_parameters()) for m in models}
    plain = all(not list(m.buffers()) for m in models)  # no running statistics
    return len(shapes) == 1 and plain and len({len(s) for s in splits}) == 1


def train_seeds(
    models: Sequence[nn.Module],
    train_splits: Sequence[Split],
    val_splits: Sequence[Split | None],
    seeds: Sequence[int],
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    device: torch.device | None = None,
    progress: bool | None = None,
    augment: str | training.Augment | None = None,
    cuda_graph: bool = True,
    validate: str = "epoch",
) -> list[History]:
    """Train each seed's model as :func:`fmnist_edu.training.train` would, all in one batch.

    ``models[i]`` (built after seeding ``seeds[i]``) is trained on ``train_splits[i]``,
    validated on ``val_splits[i]``, with ``seed=seeds[i]``; the models are updated in
    place and each seed's history is returned. The other arguments are those of
    :func:`~fmnist_edu.training.train`; each epoch's ``seconds`` is the batched epoch's
    time divided among the seeds (each seed's share).

    Raises:
        DataError: when a split holds no images.
        ConfigError: for models or splits that cannot be batched (:func:`supported`), or
            the settings :func:`~fmnist_edu.training.train` refuses.
    """
    if not (len(models) == len(train_splits) == len(val_splits) == len(seeds) >= 1):
        raise ConfigError("train_seeds needs one model, training and validation split per seed")
    if not supported(models, train_splits):
        raise ConfigError("these seeds' models or splits differ in shape: train them one by one")
    if len(train_splits[0]) == 0 or any(v is not None and len(v) == 0 for v in val_splits):
        raise DataError("a training or validation split holds no images")
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs={epochs}, batch_size={batch_size}: both must be at least 1")
    augment_fn = training._augmentation(augment)
    device = torch.device(device) if device is not None else settings.default_device()
    cublas = os.environ.get(settings.CUBLAS_ENV)
    if device.type == "cuda" and cublas not in settings.DETERMINISTIC_CUBLAS:
        raise ConfigError(f"{settings.CUBLAS_ENV}={cublas!r}: deterministic training on a GPU "
                          f"needs {' or '.join(settings.DETERMINISTIC_CUBLAS)}")  # fmt: skip
    if validate not in VALIDATION:
        raise ConfigError(f"validate={validate!r}: choose one of {', '.join(VALIDATION)}")
    check = set(validated_epochs(validate, epochs))
    n, count = len(train_splits[0]), len(seeds)
    for model in models:
        model.to(device=device, memory_format=torch.channels_last)
    layers = _dropouts(models[0])
    params = {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
        .contiguous()
        .requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    step = _Step(_template(models[0]), params, lr, device)
    images = _stack([s.images for s in train_splits], device)  # [S, N, 28, 28]
    labels = _stack([s.labels for s in train_splits], device)  # [S, N]
    run_step: graphs.Step = step
    random = _SeedRandom(seeds, device)
    static: dict[str, torch.Tensor] = {}  # the graph's masks, refilled every full step
    if _graphed(device, cuda_graph) and n >= batch_size:
        run_step = _graph(step, images[:, :batch_size].transpose(0, 1), labels[:, :batch_size].T)
        static = {f"{name}.noise": torch.empty((batch_size, count, *shape), device=device)
                  for name, _, shape in layers}  # fmt: skip
    shuffles = _shuffles(seeds)
    augments = [torch.Generator().manual_seed(training.derived_seed(s, "augment")) for s in seeds]
    rows = torch.arange(count, device=device)[:, None]
    histories = [History() for _ in seeds]
    disable = None if progress is None else not progress
    with training.deterministic_algorithms():
        for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=disable, leave=False):
            start = time.perf_counter()
            orders = torch.stack([torch.randperm(n, generator=g) for g in shuffles]).to(device)
            for idx in torch.split(orders, batch_size, dim=1):  # [S, B]
                batch = images[rows, idx]  # [S, B, 28, 28]
                if augment_fn is not None:
                    batch = torch.stack(
                        [augment_fn(b, g) for b, g in zip(batch, augments, strict=True)]
                    )
                noise = random.noise(layers, idx.shape[1], device)
                if static and idx.shape[1] == batch_size:
                    for name, tensor in noise.items():
                        static[name].copy_(tensor)
                    noise = static
                step.noise = noise
                run_step(batch.transpose(0, 1), labels[rows, idx].T)
            losses, correct = step.totals()
            _unstack(params, models)
            seconds = (time.perf_counter() - start) / count
            each = zip(models, val_splits, histories, losses, correct, strict=True)
            for model, val_split, history, loss, right in each:
                val = None  # as solo: None after an epoch not validated, or without a split
                if val_split is not None and epoch in check:
                    val = training.evaluate(model, val_split, device).accuracy
                history.epochs.append(EpochStats(epoch, loss / n, right / n, val, seconds))
    for model in models:
        model.eval()
    return histories


def _shuffles(seeds: Sequence[int]) -> list[torch.Generator]:
    """Each seed's shuffling generator, on the CPU, as the solo run seeds it."""
    return [torch.Generator().manual_seed(s) for s in seeds]


def _unstack(params: dict[str, torch.Tensor], models: Sequence[nn.Module]) -> None:
    """Copy each seed's slice of the stacked weights into its own model."""
    with torch.no_grad():
        for s, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][s])
