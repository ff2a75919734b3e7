"""Training throughput: fmnist_edu's tensor-slice loop against a per-sample DataLoader.

Prints images per second for the MLP and the CNN, each trained for a few epochs on the
data folder's training split, by

- ``fmnist_edu.training.train`` (batches are slices of in-memory tensors), and
- the usual tutorial pipeline: a ``Dataset`` that turns every image into a PIL image and
  back through ``torchvision.transforms.ToTensor``, batched by a ``DataLoader``.

Run: ``python benchmarks/bench_training.py [--epochs 3] [--data-dir PATH]``. A figure, not
a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import ToTensor

from fmnist_edu import data, models, training
from fmnist_edu.errors import FmnistEduError


class PilDataset(Dataset):
    """Per-sample pipeline as in the PyTorch tutorials: uint8 -> PIL -> ToTensor."""

    def __init__(self, split: data.Split) -> None:
        self.images, self.labels, self.to_tensor = split.images.numpy(), split.labels, ToTensor()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.to_tensor(Image.fromarray(self.images[i], mode="L")), self.labels[i]


def dataloader_epochs(model: nn.Module, split: data.Split, epochs: int) -> float:
    """Train with a DataLoader; return images per second."""
    loader = DataLoader(PilDataset(split), batch_size=128, shuffle=True, num_workers=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return epochs * len(split) / (time.perf_counter() - start)


def slice_epochs(model: nn.Module, split: data.Split, epochs: int) -> float:
    """Train with fmnist_edu's loop (no validation); return images per second."""
    start = time.perf_counter()
    training.train(model, split, None, epochs=epochs, progress=False, device=torch.device("cpu"))
    return epochs * len(split) / (time.perf_counter() - start)


def report(data_dir: str | None, epochs: int) -> None:
    """Print images per second of both loops, for the MLP and the CNN."""
    split = data.load(data_dir).train
    print(f"{len(split):,} training images, {epochs} epochs, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")  # fmt: skip
    for name in ("mlp", "cnn"):
        # One untimed epoch first, so one-off start-up costs are not counted.
        slice_epochs(models.build_model(name), split, 1)
        fast = slice_epochs(models.build_model(name), split, epochs)
        slow = dataloader_epochs(models.build_model(name), split, epochs)
        print(f"{name}: tensor slices {fast:9,.0f} img/s | per-sample DataLoader "
              f"{slow:9,.0f} img/s | {fast / slow:.1f}x")  # fmt: skip


def main() -> None:
    """Run the benchmark; a missing or broken data folder is a one-line error, exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    try:
        report(args.data_dir, args.epochs)
    except FmnistEduError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
