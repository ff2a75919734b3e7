"""What produced a chapter's numbers, for the box at the end of each chapter.

A chapter creates a :class:`ChapterRun` in its first cell, renders
:meth:`ChapterRun.subset_note` next to its results (a warning when the build read only part
of the official release) and :meth:`ChapterRun.box` in its last cell: the data, whether it
is the full release, the date and commit of the execution, and, on pages that train, the
profile, the device and the models trained or loaded.
"""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import fmnist_edu
from fmnist_edu import settings
from fmnist_edu.data import FashionMNIST
from fmnist_edu.data import load as load_data
from fmnist_edu.errors import FmnistEduError

#: Sizes of the official release (Xiao, Rasul & Vollgraf, 2017).
FULL_TRAIN, FULL_TEST = 60_000, 10_000


def _git(root: Path, *args: str) -> str:
    """Run ``git ARGS`` in ``root`` and return its output, stripped."""
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


def git_commit() -> str:
    """Return the checkout's short commit hash, with ``+changes`` when the tree is dirty.

    Returns ``"not a git checkout"`` for an installed package or when git is missing.
    """
    root = settings.project_root()
    if root is None:
        return "not a git checkout"
    try:
        head = _git(root, "rev-parse", "--short", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return head + ("+changes" if dirty else "")


def is_subset(dataset: FashionMNIST) -> bool:
    """True when the dataset holds fewer images than the official release."""
    return len(dataset.train) < FULL_TRAIN or len(dataset.test) < FULL_TEST


#: The first 20 labels of the official training and test files, in file order (Xiao, Rasul
#: & Vollgraf, 2017). A subset whose splits start with them was cut from the files' start.
OFFICIAL_FIRST_LABELS = {
    "train": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4),
    "test": (9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0),
}


@dataclass(frozen=True)
class DataExtent:
    """How much of the official release a build read, and how the subset was drawn."""

    train: int
    test: int
    subset: bool  # fewer images than the release
    prefix: bool  # both splits start with the official files' first labels
    balanced: bool  # every split's class counts within one image of each other
    class_range: tuple[int, int]  # fewest and most training images of one class


def data_extent(dataset: FashionMNIST) -> DataExtent:
    """Describe what a build read: sizes, and whether a subset is a prefix or stratified.

    The release has exactly 6,000 training and 1,000 test images per class, so a
    class-stratified sample of it has class counts within one image of each other; a
    prefix of the files (their first records) has uneven counts and starts with
    :data:`OFFICIAL_FIRST_LABELS`.
    """
    splits = {"train": dataset.train, "test": dataset.test}
    counts = {name: split.class_counts() for name, split in splits.items()}
    return DataExtent(
        train=len(dataset.train),
        test=len(dataset.test),
        subset=is_subset(dataset),
        prefix=all(
            tuple(splits[name].labels[: len(first)].tolist()) == first
            for name, first in OFFICIAL_FIRST_LABELS.items()
        ),
        balanced=all(max(c) - min(c) <= 1 for c in counts.values()),
        class_range=(min(counts["train"]), max(counts["train"])),
    )


def extent_sentence(dataset: FashionMNIST) -> str:
    """One Markdown sentence saying how many images this build read, and which ones."""
    e = data_extent(dataset)
    if not e.subset:
        return f"This build read the full release: {e.train:,} training and {e.test:,} test images."
    read = (
        f"This build read only {e.train:,} of the {FULL_TRAIN:,} training images and "
        f"{e.test:,} of the {FULL_TEST:,} test images"
    )
    low, high = e.class_range
    spread = f"its classes hold {low:,} to {high:,} training images each"
    if e.prefix and not e.balanced:
        return (
            f"{read}: the first records of the official files, a prefix rather than a "
            f"stratified sample. Both files begin with the release's first labels, and {spread}, "
            f"where a stratified sample of the release, which has {FULL_TRAIN // 10:,} of "
            "each class, would differ by at most one."
        )
    if e.balanced:
        return f"{read}, a sample with the release's class balance ({spread})."
    return f"{read}, a sample of unknown origin ({spread})."


@dataclass
class ChapterRun:
    """Collects a chapter's provenance while it runs."""

    dataset: FashionMNIST
    profile: settings.Profile = field(default_factory=settings.profile)
    started: float = field(default_factory=time.perf_counter)
    trained: int = 0
    from_store: int = 0

    def count(self, results: list) -> list:
        """Record a list of experiment results (trained now or loaded) and return it."""
        for r in results:
            self.from_store += r.from_store
            self.trained += not r.from_store
        return results

    def subset_note(self) -> str:
        """Return a MyST warning when the build read only part of the release, else ``""``.

        Chapters render it next to their results, so a reader of a build made from a
        subset knows that accuracies on the full data are expected to be higher.
        """
        if not is_subset(self.dataset):
            return ""
        train, test = len(self.dataset.train), len(self.dataset.test)
        return (
            ":::{admonition} Built from a subset of the data\n:class: warning\n\n"
            f"The numbers on this page come from {train:,} of the {FULL_TRAIN:,} training "
            f"images and {test:,} of the {FULL_TEST:,} test images of the official release. "
            "With the full data every model sees many more examples: expect higher accuracy, "
            "smaller differences between seeds and narrower intervals.\n:::\n"
        )

    def facts(self) -> dict[str, str]:
        """The provenance as label -> value strings.

        The profile, the device and the models appear only when the page trained or
        loaded models (see :meth:`count`).
        """
        train, test = len(self.dataset.train), len(self.dataset.test)
        extent = (
            f"a subset: {train / FULL_TRAIN:.1%} of the training and {test / FULL_TEST:.1%} "
            "of the test images"
            if is_subset(self.dataset)
            else "the full release"
        )
        facts = {
            "data": f"{self.dataset.source.name} ({self.dataset.layout}, "
            f"fingerprint {self.dataset.fingerprint})",
            "images read": f"{train:,} training, {test:,} test ({extent})",
            "executed": f"{datetime.date.today().isoformat()}, commit {git_commit()}",
            "versions": f"fmnist_edu {fmnist_edu.__version__}, torch {torch.__version__}",
        }
        if self.trained or self.from_store:
            device = settings.default_device()
            name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
            facts["profile"] = (
                f"{self.profile.name} ({self.profile.epochs} epochs, "
                f"{len(self.profile.seeds)} seeds)"
            )
            facts["device"] = f"{device.type} ({name}, {torch.get_num_threads()} CPU threads)"
            facts["models"] = (
                f"{self.trained} trained now, {self.from_store} from the results store"
            )
        facts["wall time"] = f"{time.perf_counter() - self.started:.1f} s"
        return facts

    def box(self) -> str:
        """Return the provenance as a MyST admonition (render with ``Markdown``)."""
        rows = "\n".join(f"| {k} | {v} |" for k, v in self.facts().items())
        return (
            ":::{admonition} What produced the numbers on this page\n:class: note\n\n"
            f"| what | value |\n|---|---|\n{rows}\n:::\n"
        )


def code_fingerprint() -> str:
    """Return a short hash of every source file of the installed ``fmnist_edu``."""
    package = Path(fmnist_edu.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_fingerprint() -> str:
    """Return what a built chapter's outputs depend on beyond its own text.

    The hash of fmnist_edu's source, the fingerprint of the data in the data folder
    (``no-data`` when it holds none) and the profile's name, joined by dashes.
    """
    try:
        data_part = load_data().fingerprint
    except FmnistEduError:
        data_part = "no-data"
    return f"{code_fingerprint()}-{data_part}-{settings.profile().name}"
