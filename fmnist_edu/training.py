"""The one training loop and evaluation, shared by every model and every chapter.

Batches are slices of in-memory tensors (see :mod:`fmnist_edu.data`), shuffled by a
seeded generator that lives on the CPU whatever the device, so every device sees the
same batches in the same order. A GPU is used when present.

What is guaranteed: training twice with the same seed, data and arguments on the same
device type (CPU or CUDA), with the same number of CPU threads, the same hardware and
the same PyTorch version, gives bit-identical weights and metrics. For that,
:func:`train` runs under :func:`deterministic_algorithms` (deterministic cuDNN and
cuBLAS kernels, no cuDNN autotuning), and :mod:`fmnist_edu.settings` sets
``CUBLAS_WORKSPACE_CONFIG`` before CUDA starts. Results on a CPU and a GPU, or with
another thread count, agree only up to rounding. So do seeds that
:func:`fmnist_edu.experiments.run_seeds` or a design grid train together as one batched
model (:mod:`fmnist_edu.batched`, with ``FMNIST_EDU_TRAINER=batched``): each equals its
solo run up to rounding, amplified over a run as between devices.

Speed: the loss and the count of correct predictions are summed on the device, and each
epoch's shuffled order is moved to the device once, so a step never waits for the GPU;
on a GPU, every full-size step is replayed as a CUDA graph (:mod:`fmnist_edu.cuda_graph`),
which launches the same kernels on the same data and so gives the same results as the
plain loop (``cuda_graph=False``). On a CPU, :func:`keep_freed_memory` stops the C
library from handing each step's large buffers back to the system and faulting them in
again at the next step (a third of the CNN's CPU time went there).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import os
import platform
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn
from tqdm import tqdm

from fmnist_edu import cuda_graph as graphs
from fmnist_edu import transforms
from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError, DataError
from fmnist_edu.records import (
    NUM_CLASSES,
    VALIDATION,
    EpochStats,
    Evaluation,
    History,
    validated_epochs,
)
from fmnist_edu.settings import CUBLAS_ENV, DETERMINISTIC_CUBLAS, default_device

#: An augmentation maps a batch of ``uint8`` images ``[B, 28, 28]`` and a generator to a
#: batch of the same shape; it runs on every training batch, before the forward pass.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
AUGMENTATIONS: dict[str, Augment | None] = {
    "none": None,
    # Each image moves by its own random offset in [-2, 2] pixels down and right.
    "shift": lambda images, generator: transforms.random_shift(images, 2, generator),
}


def to_inputs(images: torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """Turn ``uint8`` images ``[B, 28, 28]`` into model inputs ``float [B, 1, 28, 28]`` in [0, 1].

    The batch is laid out channels-last, which oneDNN's CPU convolutions run faster.
    """
    x = images.to(device).unsqueeze(1).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


#: glibc's ``mallopt`` parameters: blocks above the mmap threshold are mapped afresh for
#: every allocation; free memory above the trim threshold is returned to the system.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse, up to 1 GiB; return whether it took effect.

    By default glibc maps each block above a few MiB (a batch's feature maps: 12.8 MB for
    the CNN's first layer at batch 128) straight from the system and unmaps it when freed,
    so every training step pays page faults to get zeroed pages back. Raising the mmap and
    trim thresholds makes freed blocks stay in the heap and be reused. The numbers
    computed are unchanged. A no-op (``False``) outside glibc (macOS, Windows, musl).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(
            libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
            and libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
        )
    except (OSError, AttributeError):
        return False


def seed_everything(seed: int) -> None:
    """Seed torch's global generators, CPU and GPU (initial weights, dropout)."""
    torch.manual_seed(seed)


def derived_seed(seed: int, purpose: str) -> int:
    """Return a seed for one ``purpose`` (e.g. ``"augment"``) derived from ``seed``.

    Each random stream of a run gets its own generator, so adding one (augmentation, say)
    leaves the others, such as the shuffling order, unchanged.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "big") >> 1


@contextlib.contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """Within the block, let torch run only deterministic kernels; restore the settings after.

    Turns on :func:`torch.use_deterministic_algorithms` and turns off cuDNN's autotuner
    (which may pick another kernel each run), then puts back whatever the caller had.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = previous[2]


def _batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(torch.split(order, batch_size))


#: Images per forward pass of :func:`predict`: as fast as 1,024 on a CPU, with a quarter of
#: the memory (the CNN's first feature maps: 26 MB instead of 103 MB).
PREDICT_BATCH = 256


@torch.no_grad()
def predict(
    model: nn.Module,
    split: Split,
    batch_size: int = PREDICT_BATCH,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Return the predicted class of every image of ``split`` (``int64 [N]``, on the CPU).

    Puts ``model`` in eval mode and its 4-D weights in the channels-last layout of
    :func:`to_inputs` (the values are unchanged), the layout oneDNN's CPU convolutions
    run fastest: a model read back from the store is not in it, and its convolutions
    then took twice the time.
    """
    device = device or next(model.parameters()).device
    model.eval()
    model.to(memory_format=torch.channels_last)
    if device.type == "cpu":
        keep_freed_memory()
    out = [
        model(to_inputs(split.images[idx], device)).argmax(1).cpu()
        for idx in _batches(len(split), batch_size, None)
    ]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def evaluate(model: nn.Module, split: Split, device: torch.device | None = None) -> Evaluation:
    """Evaluate ``model`` on ``split``: accuracy, per-class accuracy, confusion matrix.

    Raises:
        DataError: when ``split`` holds no images (an accuracy of nothing is undefined).
    """
    if len(split) == 0:
        raise DataError("cannot evaluate on a split that holds no images")
    predicted = predict(model, split, device=device)
    confusion = torch.bincount(
        split.labels * NUM_CLASSES + predicted, minlength=NUM_CLASSES**2
    ).reshape(NUM_CLASSES, NUM_CLASSES)
    per_class = confusion.diag() / confusion.sum(1).clamp(min=1)
    return Evaluation(
        accuracy=float((predicted == split.labels).float().mean()),
        per_class_accuracy=per_class.tolist(),
        confusion=confusion.tolist(),
    )


def _augmentation(augment: str | Augment | None) -> Augment | None:
    if augment is None or callable(augment):
        return augment
    if augment not in AUGMENTATIONS:
        raise ConfigError(f"augment={augment!r}: choose one of {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[augment]


class _Step:
    """One optimisation step; the loss and the correct predictions are summed on the device.

    Summing in float64 and int64 tensors gives the same numbers as summing
    ``loss.item() * len(batch)`` in Python floats, without waiting for the device.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device):
        self.model, self.optimizer, self.loss_fn = model, optimizer, nn.CrossEntropyLoss()
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        logits = self.model(to_inputs(images))
        loss = self.loss_fn(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.loss_sum += loss.detach().double() * len(labels)
        self.correct += (logits.argmax(1) == labels).sum()

    def totals(self) -> tuple[float, int]:
        """Return the sums since the last call and reset them (one wait for the device)."""
        totals = float(self.loss_sum), int(self.correct)
        self.loss_sum.zero_()
        self.correct.zero_()
        return totals


def _graphed(device: torch.device, cuda_graph: bool) -> bool:
    """Whether to replay full-size steps as a CUDA graph (tests swap this to try it on a CPU)."""
    return cuda_graph and device.type == "cuda"


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool | None = None,
    augment: str | Augment | None = None,
    cuda_graph: bool = True,
    validate: str = "epoch",
) -> History:
    """Train ``model`` in place with Adam and cross-entropy; return the per-epoch history.

    Args:
        model: any module mapping images ``float [B, 1, 28, 28]`` to logits ``[B, 10]``.
        train_split: the images to learn from, shuffled afresh every epoch.
        val_split: images to measure accuracy on (see ``validate``); without one
            (``None``), no epoch is validated.
        epochs: passes over ``train_split``.
        batch_size: images per gradient step; the last batch of an epoch may be smaller.
        lr: Adam's learning rate.
        seed: seeds torch's global generators (dropout; the initial weights are set
            by whoever built ``model``, see :func:`seed_everything`), the CPU generator
            that shuffles the batches and, through :func:`derived_seed`, the one that
            draws the augmentation.
        device: where to train; defaults to the GPU when present, else the CPU.
        progress: show a tqdm bar; ``None`` shows it only when output is a terminal.
        augment: a name from :data:`AUGMENTATIONS` (``"none"``, ``"shift"``) or a function
            ``(uint8 images [B, 28, 28], generator) -> images`` applied to each training
            batch before the forward pass; ``None`` trains on the images as they are.
        cuda_graph: on a GPU, replay every full-size step as a CUDA graph (see
            :mod:`fmnist_edu.cuda_graph`): same results, fewer launches. ``False`` runs
            the plain loop, e.g. to compare; ignored on a CPU.
        validate: when to measure the accuracy on ``val_split``: after every epoch
            (``"epoch"``), after the last one only (``"last"``) or never (``"none"``),
            see :data:`fmnist_edu.records.VALIDATION`. An epoch not validated records
            ``val_accuracy=None``. Validating changes no weight: it only takes time
            (most of it in a run on a few images for many epochs).

    Raises:
        DataError: when a split holds no images.
        ConfigError: for an impossible setting (``epochs``, ``batch_size`` below 1, an
            unknown augmentation or ``validate``, or a cuBLAS workspace that is not
            deterministic).
    """
    augment_fn = _augmentation(augment)
    if validate not in VALIDATION:
        raise ConfigError(f"validate={validate!r}: choose one of {', '.join(VALIDATION)}")
    if len(train_split) == 0:
        raise DataError("the training split holds no images")
    if val_split is not None and len(val_split) == 0:
        raise DataError("the validation split holds no images; pass None to train without one")
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs={epochs}, batch_size={batch_size}: both must be at least 1")
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda" and os.environ.get(CUBLAS_ENV) not in DETERMINISTIC_CUBLAS:
        raise ConfigError(
            f"{CUBLAS_ENV}={os.environ.get(CUBLAS_ENV)!r}: deterministic training on a GPU "
            f"needs {' or '.join(DETERMINISTIC_CUBLAS)}, set before CUDA starts"
        )
    if device.type == "cpu":
        keep_freed_memory()
    seed_everything(seed)
    model.to(device=device, memory_format=torch.channels_last)
    images, labels = train_split.images.to(device), train_split.labels.to(device)
    # On a GPU, Adam keeps its step count on the device (capturable), with or without the
    # graph, so both paths run the same kernels; on a CPU it is PyTorch's default Adam.
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, capturable=device.type == "cuda")
    step = _Step(model, optimizer, device)
    run_step: graphs.Step = step
    if _graphed(device, cuda_graph) and len(train_split) >= batch_size:
        run_step = graphs.GraphedStep(step, images[:batch_size], labels[:batch_size])
    shuffle = torch.Generator().manual_seed(seed)  # on the CPU, so the same on every device
    augment_generator = torch.Generator().manual_seed(derived_seed(seed, "augment"))
    history = History()
    check = set(validated_epochs(validate, epochs)) if val_split is not None else set()
    disable = None if progress is None else not progress
    with deterministic_algorithms():
        for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=disable, leave=False):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(len(train_split), generator=shuffle).to(device)
            for idx in torch.split(order, batch_size):
                batch = images[idx]  # uint8 [B, 28, 28]
                if augment_fn is not None:
                    batch = augment_fn(batch, augment_generator)
                run_step(batch, labels[idx])
            total_loss, correct = step.totals()
            val = evaluate(model, val_split, device).accuracy if epoch in check else None
            history.epochs.append(
                EpochStats(
                    epoch=epoch,
                    loss=total_loss / len(train_split),
                    train_accuracy=correct / len(train_split),
                    val_accuracy=val,
                    seconds=time.perf_counter() - start,
                )
            )
    model.eval()
    return history
