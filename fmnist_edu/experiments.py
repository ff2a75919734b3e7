"""Experiments: a frozen configuration in, a cached :class:`Result` out.

``run(Experiment(model="cnn", epochs=5, seed=1))`` trains once, stores the result, and
answers every later identical request from the store. The validation split is carved
with a fixed seed (0) whatever the experiment's seed, so every experiment validates on
the same images; the experiment's seed decides the initial weights, the shuffling,
dropout, the augmentation's random shifts and, for ``labels="shuffled"``, the permutation
of the training labels.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import statistics
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fmnist_edu import data as data_module
from fmnist_edu import models, permutation, records
from fmnist_edu.errors import ConfigError, StoreError
from fmnist_edu.settings import default_device, profile
from fmnist_edu.store import ResultStore
from fmnist_edu.training import (
    AUGMENTATIONS,
    Evaluation,
    History,
    derived_seed,
    evaluate,
    seed_everything,
    train,
)

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
        model: ``"mlp"`` or ``"cnn"``.
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
        epochs, batch_size, lr: passes over the training images, images per step and
            Adam's learning rate.
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
        seed: seeds initial weights, shuffling, dropout, augmentation and the label
            permutation (0 to 2**63 - 1).
        limit: train on this many images (class-stratified), or ``None`` for all.
        val_fraction: share of each class held out for validation.
    """

    model: str = "cnn"
    kernel_size: int = 3
    depth: int = 2
    stride: int = 1
    padding: str = "same"
    convs_per_block: int = 1
    downsample: str = "pool"
    hidden: tuple[int, ...] | None = None
    epochs: int = 10
    seed: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    augment: str = "none"
    labels: str = "true"
    permute: int | None = None
    relabel: bool = False
    limit: int | None = None
    val_fraction: float = 0.1

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

    def __post_init__(self) -> None:
        if self.model not in ("mlp", "cnn"):
            raise ConfigError(f"model={self.model!r}: choose 'mlp' or 'cnn'")
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

    def default_hidden(self) -> tuple[int, ...]:
        """The hidden widths the model has when ``hidden`` is ``None``."""
        return models.MLP_HIDDEN if self.model == "mlp" else (models.CNN_HIDDEN,)

    def model_options(self) -> dict[str, Any]:
        """Return the options :func:`models.build_model` takes for this experiment."""
        options = {f: getattr(self, f) for f in CNN_FIELDS} if self.model == "cnn" else {}
        if self.hidden is not None:
            options["hidden"] = self.hidden if self.model == "mlp" else self.hidden[0]
        return options

    def config(self) -> dict[str, Any]:
        """Return the fields that decide the result: the store key is made from these.

        The CNN fields are dropped for the MLP. ``convs_per_block``, ``downsample``,
        ``hidden``, ``augment``, ``labels``, ``permute`` and ``relabel``, added later, appear
        only when they differ from their defaults, so the configurations of the earlier
        experiments keep their form.
        """
        fields = dataclasses.asdict(self)
        if self.model == "mlp":
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
        return fields

    def build(self) -> nn.Module:
        """Build the untrained model this experiment describes."""
        return models.build_model(self.model, **self.model_options())

    def label(self) -> str:
        """A short human-readable name, e.g. ``cnn k3 d2 s1 same`` or ``mlp 512,256``."""
        if self.model == "mlp":
            name = "mlp"
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


@dataclass
class Result:
    """What an experiment produced, and whether it came from the store."""

    experiment: Experiment
    history: History
    test: Evaluation
    parameters: int
    train_images: int
    val_images: int
    test_images: int
    device: str
    train_seconds: float
    state_dict: dict[str, torch.Tensor]
    from_store: bool = False

    def model(self) -> nn.Module:
        """Rebuild the trained model (on the CPU, in eval mode)."""
        model = self.experiment.build()
        model.load_state_dict(self.state_dict)
        return model.eval()

    def metrics(self) -> dict[str, Any]:
        """Everything but the weights and the experiment, as JSON-ready data."""
        return {
            name: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
            for name, value in ((f, getattr(self, f)) for f in _METRICS)
        }


_METRICS = tuple(
    f.name
    for f in dataclasses.fields(Result)
    if f.name not in ("experiment", "state_dict", "from_store")
)


def _from_store(experiment: Experiment, metrics: dict[str, Any], state: dict) -> Result:
    """Rebuild a stored result, checking every field and that the weights fit the model.

    Raises ``ValueError`` (or ``RuntimeError`` from ``load_state_dict``) naming what is wrong.
    """
    if set(metrics) != set(_METRICS):
        raise ValueError(f"metrics: expected the fields {sorted(_METRICS)}, got {sorted(metrics)}")
    for name in ("parameters", "train_images", "val_images", "test_images"):
        value = metrics[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"metrics.{name}={value!r}: not a count")
    records.duration(metrics["train_seconds"], "metrics.train_seconds")
    if not isinstance(metrics["device"], str):
        raise ValueError(f"metrics.device={metrics['device']!r}: not a device name")
    history = History.from_dict(metrics["history"], "metrics.history")
    if len(history.epochs) != experiment.epochs:
        raise ValueError(f"metrics.history: {len(history.epochs)} epochs, not {experiment.epochs}")
    with torch.device("meta"):  # shapes only: no memory, no draw from the random generator
        model = experiment.build()
    model.load_state_dict(state, strict=True, assign=True)  # names and shapes must match
    if metrics["parameters"] != models.count_parameters(model):
        raise ValueError(f"metrics.parameters={metrics['parameters']}: the weights disagree")
    return Result(
        experiment,
        history,
        Evaluation.from_dict(metrics["test"], "metrics.test"),
        state_dict=state,
        from_store=True,
        **{name: metrics[name] for name in _METRICS if name not in ("history", "test")},
    )


def cached(
    experiment: Experiment, dataset: data_module.FashionMNIST, store: ResultStore
) -> Result | None:
    """Return the stored result of ``experiment`` on ``dataset``, or ``None`` (never trains).

    An entry whose contents are wrong in any way is set aside with a warning (see
    :meth:`ResultStore.set_aside`) and reported as absent.
    """
    with torch.device("meta"):  # an impossible design is the user's error, not damage
        experiment.build()
    key = store.key(experiment.config(), dataset.fingerprint)
    loaded = store.load(key)
    if loaded is None:
        return None
    try:
        return _from_store(experiment, *loaded)
    except (ValueError, TypeError, RuntimeError) as exc:
        store.set_aside(key, str(exc))
        return None


def prepare_splits(
    experiment: Experiment, dataset: data_module.FashionMNIST
) -> tuple[data_module.Split, data_module.Split]:
    """Return the (train, validation) splits an experiment trains and validates on.

    With ``labels="shuffled"`` the training labels are permuted (the validation split keeps
    its true labels, so validation accuracy shows that nothing generalises). With
    ``permute``, the pixels of both splits are permuted.
    """
    train_split, val_split = data_module.train_val_split(
        dataset.train, experiment.val_fraction, seed=VALIDATION_SEED
    )
    if experiment.limit is not None:
        train_split = data_module.stratified_limit(train_split, experiment.limit, experiment.seed)
    if experiment.labels == "shuffled":
        generator = torch.Generator().manual_seed(derived_seed(experiment.seed, "labels"))
        order = torch.randperm(len(train_split), generator=generator)
        train_split = data_module.Split(train_split.images, train_split.labels[order])
    if experiment.permute is not None:
        pixels = permutation.pixel_permutation(experiment.permute)
        train_split = permutation.permute_split(train_split, pixels)
        val_split = permutation.permute_split(val_split, pixels)
    return train_split, val_split


def evaluation_split(
    experiment: Experiment, dataset: data_module.FashionMNIST
) -> data_module.Split:
    """Return the test images an experiment is evaluated on (pixels permuted with ``permute``).

    Use it to test a stored model again (e.g. :func:`fmnist_edu.comparison.correctness`):
    a model trained on permuted pixels must be shown its test images permuted the same way.
    """
    if experiment.permute is None:
        return dataset.test
    pixels = permutation.pixel_permutation(experiment.permute)
    return permutation.permute_split(dataset.test, pixels)


def compute(
    experiment: Experiment,
    dataset: data_module.FashionMNIST,
    device: torch.device | None = None,
    progress: bool | None = None,
) -> Result:
    """Train ``experiment`` on ``dataset`` and return its result; no store is read or written.

    This is what a worker of a grid runs (see :func:`fmnist_edu.grid.run_grid`): the
    caller stores the result, so workers need no shared folder. Use :func:`run` otherwise.
    """
    device = device or default_device()
    train_split, val_split = prepare_splits(experiment, dataset)
    seed_everything(experiment.seed)
    model = experiment.build()
    if experiment.relabel:  # the unpermuted run's initial weights, relabelled
        permutation.relabel_first_layer(model, permutation.pixel_permutation(experiment.permute))
    start = time.perf_counter()
    history = train(
        model,
        train_split,
        val_split,
        epochs=experiment.epochs,
        batch_size=experiment.batch_size,
        lr=experiment.lr,
        seed=experiment.seed,
        device=device,
        progress=progress,
        augment=experiment.augment,
    )
    return Result(
        experiment=experiment,
        history=history,
        test=evaluate(model, evaluation_split(experiment, dataset), device),
        parameters=models.count_parameters(model),
        train_images=len(train_split),
        val_images=len(val_split),
        test_images=len(dataset.test),
        device=str(device),
        train_seconds=time.perf_counter() - start,
        state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
    )


def save(result: Result, dataset: data_module.FashionMNIST, store: ResultStore) -> None:
    """Store ``result``, or warn (never raise) when the store cannot hold it."""
    try:
        key = store.key(result.experiment.config(), dataset.fingerprint)
        store.save(key, result.metrics(), result.state_dict)
    except StoreError as exc:
        warnings.warn(f"{exc}; the result was not stored", stacklevel=3)


def run(
    experiment: Experiment,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    device: torch.device | None = None,
    progress: bool | None = None,
) -> Result:
    """Return the result of ``experiment``, from the store when it holds it, else by training.

    Before training, the store is checked to be writable (:meth:`ResultStore.check_writable`)
    so a run is never wasted; a result that still cannot be stored is returned with a
    warning.
    """
    dataset = dataset or data_module.load()
    store = store or ResultStore()
    result = cached(experiment, dataset, store)
    if result is not None:
        return result
    store.check_writable()
    result = compute(experiment, dataset, device, progress)
    save(result, dataset, store)
    return result


def run_seeds(
    experiment: Experiment,
    seeds: Iterable[int] | None = None,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    **kwargs: Any,
) -> list[Result]:
    """Run ``experiment`` once per seed (default: the profile's seeds and epochs)."""
    if seeds is None:
        chosen = profile()
        seeds = chosen.seeds
        experiment = dataclasses.replace(experiment, epochs=chosen.epochs)
    dataset = dataset or data_module.load()
    return [run(dataclasses.replace(experiment, seed=s), dataset, store, **kwargs) for s in seeds]


@dataclass(frozen=True)
class SeedSummary:
    """Mean and sample standard deviation of a metric over seeds."""

    mean: float
    std: float
    n: int
    values: tuple[float, ...]


def summarize_seeds(values: Iterable[float]) -> SeedSummary:
    """Return the mean and spread of per-seed values (std is 0 for a single seed)."""
    values = tuple(values)
    if not values:
        raise ConfigError("summarize_seeds needs at least one value")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return SeedSummary(statistics.fmean(values), std, len(values), values)
