"""What produced a chapter's numbers, for the box at the end of each chapter.

A chapter creates a :class:`ChapterRun` in its first cell and renders
:meth:`ChapterRun.box` in its last: the images read, the profile, the device, the
torch version and the wall time of its computations.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import fmnist_edu
from fmnist_edu import settings
from fmnist_edu.data import FashionMNIST
from fmnist_edu.data import load as load_data
from fmnist_edu.errors import FmnistEduError


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

    def facts(self) -> dict[str, str]:
        """The provenance as label -> value strings."""
        device = settings.default_device()
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        facts = {
            "data": f"{self.dataset.source.name} ({self.dataset.layout}, "
            f"fingerprint {self.dataset.fingerprint})",
            "images read": f"{len(self.dataset.train):,} training, {len(self.dataset.test):,} test",
            "profile": f"{self.profile.name} ({self.profile.epochs} epochs, "
            f"{len(self.profile.seeds)} seeds)",
            "device": f"{device.type} ({name}, {torch.get_num_threads()} CPU threads)",
            "versions": f"fmnist_edu {fmnist_edu.__version__}, torch {torch.__version__}",
            "wall time": f"{time.perf_counter() - self.started:.1f} s",
        }
        if self.trained or self.from_store:
            facts["models"] = (
                f"{self.trained} trained now, {self.from_store} from the results store"
            )
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
