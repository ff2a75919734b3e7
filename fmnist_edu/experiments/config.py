"""The experiment: one training run, fully described and checked when it is created."""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from fmnist_edu import models, registry
from fmnist_edu.errors import ConfigError
from fmnist_edu.records import VALIDATION
from fmnist_edu.settings import profile
from fmnist_edu.training import AUGMENTATIONS

CNN_FIELDS = ("kernel_size", "depth", "stride", "padding", "convs_per_block", "downsample")
VALIDATION_SEED = 0
MAX_SIDE = models.IMAGE_SIDE - 1  # the largest kernel or stride that leaves room to pool
MAX_WIDTH, MAX_LAYERS = 4096, 8  # hidden widths: enough to explore, small enough to fit
MAX_CONVS = 4  # convolutions per block: VGG stacks up to 4 (its configuration E)
#: What the training labels are: the dataset's (``"true"``) or a seeded permutation of them.
LABELS = ("true", "shuffled")


def _whole(name: str, value: Any, low: int, high: int) -> int:
    """Return ``value`` as an ``int`` if it is a whole number in ``[low, high]``."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None:
        raise ConfigError(f"{name}={value!r}: must be a whole number")
    if not low <= number <= high:
        raise ConfigError(f"{name}={number}: must be between {low:,} and {high:,}")
    return number


@dataclass(frozen=True)
class Experiment:
    """One training run, fully described; every field is checked when it is created.

    Attributes:
        model: ``"mlp"``, ``"cnn"``, the name of a model registered with
            :func:`fmnist_edu.models.register`, or a builder function itself (a function
            of no arguments returning a fresh ``nn.Module`` that maps ``[N, 1, 28, 28]``
            images to ``[N, 10]`` logits; it is registered under its own name). Your own
            model takes none of the CNN's or MLP's options; its store key holds a
            fingerprint of its source (:func:`fmnist_edu.registry.fingerprint`).
        kernel_size, depth, stride, padding: the CNN's design (see :class:`models.CNN`);
            ignored, and left out of :meth:`config`, for the MLP.
        convs_per_block: CNN only: stacked convolutions per block (1 to 4), e.g. 2 for
            two 3 x 3 convolutions, which see the 5 x 5 patch of one 5 x 5 convolution.
        downsample: CNN only: ``"pool"`` (a 2 x 2 max-pool ends each block) or
            ``"stride"`` (the block's last convolution has stride 2; ``stride`` stays 1).
        hidden: widths of the dense hidden layers. For the MLP, its whole stack, e.g.
            ``(512, 256)``; for the CNN, one width for the dense layer before the
            classifier, e.g. ``(256,)``. ``None`` keeps the model's default: ``(128, 64)``
            for the MLP, ``(128,)`` for the CNN.
        augment: ``"none"``, or ``"shift"``: during training, each image of each batch
            moves by its own random offset in [-2, 2] pixels, down and right, with
            zero fill (see :mod:`fmnist_edu.transforms`), drawn from a generator seeded
            by ``seed``.
        epochs: passes over the training images; ``None`` (the default) takes the
            profile's (``FMNIST_EDU_PROFILE``: 10 for ``full``, 3 for ``quick``) when the
            experiment is created, and a number you give is always kept.
        batch_size, lr: images per step and Adam's learning rate.
        labels: ``"true"``, or ``"shuffled"``: the training images keep their order but
            their labels are permuted by a generator seeded by ``seed`` (validation and
            test labels stay true). Such a model can only memorise; the Interpretability
            chapter uses it to test whether saliency maps depend on what was learnt
            (Adebayo et al., 2018).
        permute: ``None``, or the seed (0 to 2**63 - 1) of one fixed random permutation of
            the 784 pixels (:func:`fmnist_edu.permutation.pixel_permutation`), applied to
            every training, validation and test image: the pixel values are kept, which
            pixels are neighbours is lost. Cannot be combined with ``augment``.
        relabel: MLP with ``permute`` only: start from the initial weights that ``seed``
            gives the unpermuted MLP, with the first layer's input columns permuted like
            the pixels (:func:`fmnist_edu.permutation.relabel_first_layer`). The run is
            then the unpermuted run relabelled, and agrees with it up to float rounding.
        seed: seeds the initial weights (the generators are seeded before the model is
            built, for your own models too), shuffling, dropout, augmentation and the
            label permutation (0 to 2**63 - 1).
        limit: train on this many images (class-stratified), or ``None`` for all.
        val_fraction: share of each class held out for validation.
        validate: when to measure the accuracy on the validation images: after every
            epoch (``"epoch"``, the default: what a learning curve needs), after the last
            epoch only (``"last"``), or never (``"none"``: for runs judged by their test
            accuracy alone). Epochs not validated record ``val_accuracy=None``. It changes
            no weight, only the time a run takes, and the store keeps one entry per value.
    """

    model: str | Callable[[], nn.Module] = "cnn"
    kernel_size: int = 3
    depth: int = 2
    stride: int = 1
    padding: str = "same"
    convs_per_block: int = 1
    downsample: str = "pool"
    hidden: tuple[int, ...] | None = None
    epochs: int | None = None
    seed: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    augment: str = "none"
    labels: str = "true"
    permute: int | None = None
    relabel: bool = False
    limit: int | None = None
    val_fraction: float = 0.1
    validate: str = "epoch"
    builder: Callable[[], nn.Module] | None = field(default=None, repr=False, compare=False)
    """Set from ``model``: the builder of a model of your own (``None`` for the book's)."""

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalise a field of the frozen instance

    def _check_whole(self, name: str, low: int, high: int) -> None:
        self._set(name, _whole(name, getattr(self, name), low, high))

    def _check_number(self, name: str, low: float, high: float) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}={value!r}: must be a number")
        if not low < value < high:  # NaN fails too
            raise ConfigError(f"{name}={value}: must lie strictly between {low} and {high}")
        self._set(name, float(value))

    @property
    def custom(self) -> bool:
        """Whether the model is one of your own (registered), not the book's MLP or CNN."""
        return self.model not in registry.BUILT_IN

    def _check_model(self) -> None:
        if callable(self.model):
            self._set("builder", self.model)
            self._set("model", registry.name_of(self.model))
        elif not isinstance(self.model, str):
            raise ConfigError(f"model={self.model!r}: give 'mlp', 'cnn' or a model's name")
        elif self.model in registry.BUILT_IN:
            self._set("builder", None)
        elif self.builder is None or registry.is_registered(self.model):
            self._set("builder", registry.lookup(self.model))
        else:  # carried by a copy of the experiment (dataclasses.replace) into a new process
            registry.register(self.model, self.builder, replace=True)
        if self.custom and self.hidden is not None:
            raise ConfigError(f"hidden={self.hidden!r}: model {self.model!r} is built by its "
                              "own builder; set its widths there")  # fmt: skip

    def __post_init__(self) -> None:
        self._check_model()
        if self.epochs is None:
            self._set("epochs", profile().epochs)
        if self.model == "cnn":
            self._check_whole("kernel_size", 1, MAX_SIDE)
            self._check_whole("depth", 1, models.MAX_DEPTH)
            self._check_whole("stride", 1, MAX_SIDE)
            if self.padding not in ("same", "valid"):
                raise ConfigError(f"padding={self.padding!r}: choose 'same' or 'valid'")
            if self.padding == "same" and self.kernel_size % 2 == 0:
                raise ConfigError(
                    f"kernel_size={self.kernel_size}: 'same' padding needs an odd kernel"
                )
            self._check_whole("convs_per_block", 1, MAX_CONVS)
            if self.downsample not in models.DOWNSAMPLING:
                raise ConfigError(f"downsample={self.downsample!r}: choose 'pool' or 'stride'")
            if self.downsample == "stride" and self.stride != 1:
                raise ConfigError(
                    f"stride={self.stride} with downsample='stride': each block's last "
                    "convolution takes stride 2 in place of pooling; leave stride=1"
                )
        if self.hidden is not None:
            self._set("hidden", self._widths())
        self._check_whole("epochs", 1, 10_000)
        self._check_whole("seed", 0, 2**63 - 1)  # torch.manual_seed takes below 2**64
        self._check_whole("batch_size", 1, 10**6)
        if self.limit is not None:
            self._check_whole("limit", 1, 2**63 - 1)
        self._check_number("lr", 0, math.inf)
        self._check_number("val_fraction", 0, 1)
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"augment={self.augment!r}: choose one of {', '.join(AUGMENTATIONS)}")
        if self.validate not in VALIDATION:
            raise ConfigError(f"validate={self.validate!r}: choose one of {', '.join(VALIDATION)}")
        if self.labels not in LABELS:
            raise ConfigError(f"labels={self.labels!r}: choose one of {', '.join(LABELS)}")
        self._check_permutation()

    def _check_permutation(self) -> None:
        if self.permute is not None:
            self._check_whole("permute", 0, 2**63 - 1)
            if self.augment != "none":
                raise ConfigError(
                    f"augment={self.augment!r} with permute={self.permute}: shifting images "
                    "whose pixels are permuted moves no garment; choose one of the two"
                )
        if not isinstance(self.relabel, bool):
            raise ConfigError(f"relabel={self.relabel!r}: must be True or False")
        if self.relabel and (self.model != "mlp" or self.permute is None):
            raise ConfigError(
                f"relabel=True with model={self.model!r}, permute={self.permute}: only the MLP "
                "on permuted pixels can start from relabelled weights"
            )

    def _widths(self) -> tuple[int, ...]:
        """Check ``hidden`` and return it as a tuple of ints (JSON gives back a list)."""
        if isinstance(self.hidden, str | bytes) or not isinstance(self.hidden, Iterable):
            raise ConfigError(f"hidden={self.hidden!r}: give a sequence of widths like (512, 256)")
        widths = tuple(_whole("hidden", w, 1, MAX_WIDTH) for w in self.hidden)
        if self.model == "cnn" and len(widths) != 1:
            raise ConfigError(
                f"hidden={widths}: the CNN has one dense layer before the classifier; "
                "give one width"
            )
        if not 1 <= len(widths) <= MAX_LAYERS:
            raise ConfigError(f"hidden={widths}: give 1 to {MAX_LAYERS} widths")
        return widths

    def default_hidden(self) -> tuple[int, ...] | None:
        """The hidden widths the model has when ``hidden`` is ``None`` (``None``: your own)."""
        if self.custom:
            return None
        return models.MLP_HIDDEN if self.model == "mlp" else (models.CNN_HIDDEN,)

    def model_options(self) -> dict[str, Any]:
        """Return the options :func:`models.build_model` takes for this experiment."""
        options = {f: getattr(self, f) for f in CNN_FIELDS} if self.model == "cnn" else {}
        if self.hidden is not None:
            options["hidden"] = self.hidden if self.model == "mlp" else self.hidden[0]
        return options

    def config(self) -> dict[str, Any]:
        """Return the fields that decide the result: the store key is made from these.

        The CNN fields are dropped for the MLP and for your own models, whose entry
        ``builder`` is their :func:`fmnist_edu.registry.fingerprint`. ``convs_per_block``,
        ``downsample``, ``hidden``, ``augment``, ``labels``, ``permute``, ``relabel`` and
        ``validate``, added later, appear only when they differ from their defaults, so the
        configurations of the earlier experiments keep their form.
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.pop("builder")
        if self.custom:
            fields["builder"] = registry.fingerprint(self.builder)
        if self.model != "cnn":
            for name in CNN_FIELDS:
                fields.pop(name)
        else:
            for name, default in (("convs_per_block", 1), ("downsample", "pool")):
                if fields[name] == default:
                    fields.pop(name)
        if self.hidden in (None, self.default_hidden()):
            fields.pop("hidden")
        if self.augment == "none":
            fields.pop("augment")
        if self.labels == "true":
            fields.pop("labels")
        if self.permute is None:
            fields.pop("permute")
        if not self.relabel:
            fields.pop("relabel")
        if self.validate == "epoch":
            fields.pop("validate")
        return fields

    def build(self) -> nn.Module:
        """Build the untrained model this experiment describes (seed the generators first)."""
        if self.custom:
            return self.builder()
        return models.build_model(self.model, **self.model_options())

    def label(self) -> str:
        """A short human-readable name, e.g. ``cnn k3 d2 s1 same`` or ``mlp 512,256``."""
        if self.model != "cnn":
            name = self.model
        else:
            name = f"cnn k{self.kernel_size} d{self.depth} s{self.stride} {self.padding}"
            name += f" x{self.convs_per_block}" if self.convs_per_block != 1 else ""
            name += " stride-down" if self.downsample != "pool" else ""
        if self.hidden is not None and self.hidden != self.default_hidden():
            name += " " + ",".join(map(str, self.hidden))
        if self.augment != "none":
            name += f" +{self.augment}"
        if self.labels != "true":
            name += f" {self.labels}-labels"
        if self.permute is not None:
            name += f" permuted {self.permute}" + (" relabelled" if self.relabel else "")
        return name
