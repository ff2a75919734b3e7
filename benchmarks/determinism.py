"""Are two identical training runs bit-identical on this device? And with and without the graph?

Trains the CNN and the MLP twice with the same seed on the data folder's training images
(3 epochs, with validation) and compares every epoch's loss, train and validation
accuracy and every weight bit for bit; on a GPU, also against a run without the CUDA graph
(``cuda_graph=False``), which must give the same bits. Prints one line per comparison
and exits 1 if any differs.

Run: ``python benchmarks/determinism.py [--device cuda] [--data-dir PATH] [--images 2000]``.
"""

from __future__ import annotations

import argparse
import sys

import torch

from fmnist_edu import data, models, training
from fmnist_edu.errors import FmnistEduError
from fmnist_edu.settings import default_device


def one_run(name: str, dataset: data.FashionMNIST, images: int, device: str, graph: bool):
    """Train once; return the history's columns and the weights on the CPU."""
    train, val = data.train_val_split(dataset.train)
    train = data.stratified_limit(train, min(images, len(train)))
    training.seed_everything(5)
    model = models.build_model(name)
    history = training.train(
        model, train, val, epochs=3, seed=5, device=device, progress=False, cuda_graph=graph
    )
    columns = [history.column(c) for c in ("loss", "train_accuracy", "val_accuracy")]
    return columns, [t.detach().cpu() for t in model.state_dict().values()]


def same(a, b) -> bool:
    """True when two runs agree bit for bit."""
    return a[0] == b[0] and all(torch.equal(x, y) for x, y in zip(a[1], b[1], strict=True))


def main() -> None:
    """Compare the runs; exit 1 when any pair differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=str(default_device()))
    parser.add_argument("--data-dir")
    parser.add_argument("--images", type=int, default=2000, help="training images per run")
    args = parser.parse_args()
    try:
        dataset = data.load(args.data_dir)
    except FmnistEduError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    ok = True
    for name in ("cnn", "mlp"):
        first = one_run(name, dataset, args.images, args.device, graph=True)
        pairs = {"same seed twice": one_run(name, dataset, args.images, args.device, True)}
        if args.device.startswith("cuda"):
            pairs["CUDA graph vs plain loop"] = one_run(
                name, dataset, args.images, args.device, False
            )
        for what, other in pairs.items():
            verdict = same(first, other)
            ok &= verdict
            print(f"{args.device} {name} {what}: {'bit-identical' if verdict else 'DIFFERENT'} "
                  f"(final loss {first[0][0][-1]!r} vs {other[0][0][-1]!r})")  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
