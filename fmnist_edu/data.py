"""Fashion-MNIST in memory: find the files, decode them once, carve the splits.

A :class:`Split` holds a whole split as two tensors (``uint8`` images ``[N, 28, 28]`` and
``int64`` labels ``[N]``). Training takes batches as slices of these tensors, which on a
CPU is several times faster than a per-sample ``DataLoader`` that converts PIL images.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fmnist_edu import formats, settings
from fmnist_edu.errors import DataError

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CSV_FILES = {"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"}


@dataclass(frozen=True)
class Split:
    """One split held in memory: ``images`` ``uint8 [N, 28, 28]``, ``labels`` ``int64 [N]``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.shape[1:] != (28, 28) or len(self.images) != len(self.labels):
            raise DataError(
                f"a split needs images [N, 28, 28] and labels [N]; got "
                f"{tuple(self.images.shape)} and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        """Return the number of images of each class, in label order."""
        return torch.bincount(self.labels, minlength=len(CLASS_NAMES)).tolist()

    def subset(self, index: torch.Tensor) -> Split:
        """Return the split restricted to ``index`` (a tensor of positions)."""
        return Split(self.images[index], self.labels[index])


@dataclass(frozen=True)
class FashionMNIST:
    """Both official splits, where they were read from, and a fingerprint of their bytes."""

    train: Split
    test: Split
    source: Path
    layout: str
    fingerprint: str


def _find_layout(folder: Path) -> tuple[str, dict[str, list[Path]]] | None:
    """Return the first complete layout in ``folder``, or ``None`` if it holds no data."""
    candidates = [
        ("idx-gz", folder, ".gz"),
        ("idx", folder, ""),
        ("idx", folder / "FashionMNIST" / "raw", ""),
    ]
    partial = []
    for layout, base, suffix in candidates:
        files = {s: [base / (name + suffix) for name in names] for s, names in IDX_FILES.items()}
        present = [p for paths in files.values() for p in paths if p.is_file()]
        if len(present) == 4:
            return layout, files
        partial += present
    csvs = {s: [folder / name] for s, name in CSV_FILES.items()}
    present = [p for paths in csvs.values() for p in paths if p.is_file()]
    if len(present) == 2:
        return "csv", csvs
    partial += present
    if partial:
        raise DataError(
            f"{folder}: incomplete dataset: found {', '.join(p.name for p in partial)} but not "
            "the rest of its set (four IDX files, or the two Kaggle CSV files)"
        )
    return None


def has_data(folder: str | os.PathLike) -> bool:
    """Return True when ``folder`` holds a complete copy in any supported layout.

    A folder with only part of a set (say, two of the four IDX files) returns False.
    """
    folder = Path(folder)
    try:
        return folder.is_dir() and _find_layout(folder) is not None
    except DataError:
        return False


def _read_split(layout: str, paths: list[Path], limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Read one split of at most ``limit`` records."""
    if layout == "csv":
        images, labels = formats.read_csv(paths[0], limit)
    else:
        images = formats.read_idx_images(paths[0], limit)
        labels = formats.read_idx_labels(paths[1], limit)
        if len(images) != len(labels):
            raise DataError(
                f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels"
            )
    if len(images) == 0:
        raise DataError(f"{paths[0]}: holds no images (0 records)")
    return images, labels


def load(data_dir: str | os.PathLike | None = None, download: bool = False) -> FashionMNIST:
    """Read Fashion-MNIST from the data folder (see :func:`fmnist_edu.settings.data_dir`).

    With ``download=True`` an empty or missing folder is first filled with the official
    release. Returns both splits decoded into tensors.

    The folder may hold no more records in all than Fashion-MNIST has (see
    :data:`fmnist_edu.formats.MAX_RECORDS`), and each file is decoded straight into its
    array, so loading takes about as much memory as the data (55 MB at most).
    """
    folder = settings.data_dir(data_dir)
    if download and not has_data(folder):
        from fmnist_edu.download import download_release

        download_release(folder)  # completes a partial download, never overwrites a file
    found = _find_layout(folder) if folder.is_dir() else None
    if found is None:
        raise DataError(
            f"{folder}: no Fashion-MNIST files here. Run 'fmnist-edu data download' to fetch "
            "the official release, or point --data-dir / FMNIST_EDU_DATA at a local copy"
        )
    layout, files = found
    digest = hashlib.sha256()
    splits = {}
    left = formats.MAX_RECORDS  # for the whole folder
    for name, paths in files.items():
        images, labels = _read_split(layout, paths, left)
        left -= len(labels)
        digest.update(np.ascontiguousarray(images))  # the bytes, without a copy of them
        digest.update(np.ascontiguousarray(labels))
        splits[name] = Split(torch.from_numpy(images), torch.from_numpy(labels).long())
    return FashionMNIST(splits["train"], splits["test"], folder, layout, digest.hexdigest()[:16])


def train_val_split(split: Split, val_fraction: float = 0.1, seed: int = 0) -> tuple[Split, Split]:
    """Carve a validation split from ``split``, stratified by class, with a fixed seed.

    The same ``(split, val_fraction, seed)`` always gives the same two splits, so every
    experiment validates on the same images. Each class gives ``round(n * val_fraction)``
    of its ``n`` images to validation.

    Raises:
        DataError: when ``val_fraction`` is outside (0, 1) or either part would be empty.
    """
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    if len(split) == 0:
        raise DataError("cannot carve a validation split: the split holds no images")
    generator = torch.Generator().manual_seed(seed)
    train_idx, val_idx = [], []
    for c in range(len(CLASS_NAMES)):
        members = torch.nonzero(split.labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = round(len(members) * val_fraction)
        val_idx.append(members[:n_val])
        train_idx.append(members[n_val:])
    train, val = (
        split.subset(torch.cat(train_idx).sort().values),
        split.subset(torch.cat(val_idx).sort().values),
    )
    for name, part in (("training", train), ("validation", val)):
        if len(part) == 0:
            raise DataError(
                f"val_fraction={val_fraction} of {len(split)} images leaves no {name} images"
            )
    return train, val


def stratified_limit(split: Split, limit: int, seed: int = 0) -> Split:
    """Keep ``limit`` images with the class proportions of ``split`` (for quick runs).

    Each class keeps its share of ``limit`` rounded down; the images lost to rounding go
    to the classes with the largest remainders. So a limit below the number of classes
    (say 5) keeps one image of each of 5 classes and none of the others: a legitimate,
    if extreme, experiment. A limit at least ``len(split)`` returns ``split`` itself.

    Raises:
        DataError: when ``limit`` is not a positive integer.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise DataError(f"limit must be a positive number of images, got {limit}")
    if limit >= len(split):
        return split
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split), generator=generator)
    labels = split.labels[order]
    counts = torch.bincount(split.labels, minlength=len(CLASS_NAMES)).double()
    quota = torch.floor(counts * limit / len(split)).long()
    # Hand the images lost to rounding to the classes with the largest remainders.
    remainder = counts * limit / len(split) - quota
    for c in torch.argsort(remainder, descending=True)[: limit - int(quota.sum())]:
        quota[c] += 1
    keep = [order[labels == c][: int(quota[c])] for c in range(len(CLASS_NAMES))]
    return split.subset(torch.cat(keep).sort().values)
