"""Bring your own model: register a builder, then train it like the book's models.

A *builder* is any function (or ``nn.Module`` class) that takes no arguments and returns
a fresh, untrained ``nn.Module`` mapping images ``float [N, 1, 28, 28]`` to logits
``[N, 10]``. Registered under a name, it goes through the same path as the book's MLP
and CNN: ``Experiment(model=name)`` -> results store -> ``Result``::

    def bn_cnn() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), ...)

    models.register("bn_cnn", bn_cnn)            # or Experiment(model=bn_cnn)
    runs = experiments.run_seeds(Experiment(model="bn_cnn", epochs=2), seeds=[0, 1])

The store key holds a :func:`fingerprint` of the builder: the source of the builder and
of every non-torch module class in what it builds, and the built architecture, so editing
the model retrains it while an unchanged model is loaded from the store.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import inspect
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from fmnist_edu.errors import ConfigError

Builder = Callable[[], nn.Module]
#: Names taken by the book's own models.
BUILT_IN = ("mlp", "cnn")
#: What every model here maps: a batch of images to one logit per class.
INPUT_SHAPE, NUM_OUTPUTS = (1, 28, 28), 10

_BUILDERS: dict[str, Builder] = {}


def register(name: str, builder: Builder, *, replace: bool = False) -> Builder:
    """Register ``builder`` under ``name`` so that ``Experiment(model=name)`` can train it.

    Registering the same function twice is harmless; another function under a taken name
    needs ``replace=True`` (e.g. after editing it in a notebook). Returns ``builder``, so
    it can be used as ``register("name", fn)`` or applied to a function once defined.

    Raises:
        ConfigError: for a name of the book's models, a non-identifier name, a builder
            that is not callable, or a taken name without ``replace``.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"model name {name!r}: use letters, digits and '_' (e.g. 'bn_cnn')")
    if name in BUILT_IN:
        raise ConfigError(f"model name {name!r} is the book's own model; choose another name")
    if not callable(builder):
        raise ConfigError(f"register({name!r}, ...): the builder must be callable, got {builder!r}")
    known = _BUILDERS.get(name)
    if known is not None and known is not builder and not replace:
        raise ConfigError(
            f"model name {name!r} is already registered to {_qualname(known)}; "
            "pass replace=True to register another builder under it"
        )
    _BUILDERS[name] = builder
    return builder


def is_registered(name: str) -> bool:
    """Whether a model of your own is registered under ``name``."""
    return name in _BUILDERS


def lookup(name: str) -> Builder:
    """Return the builder registered under ``name``.

    Raises:
        ConfigError: naming the registered models when ``name`` is not one of them.
    """
    try:
        return _BUILDERS[name]
    except KeyError:
        known = ", ".join(repr(n) for n in (*BUILT_IN, *sorted(_BUILDERS)))
        raise ConfigError(
            f"model={name!r}: not a known model (known: {known}); register your own with "
            "fmnist_edu.models.register(name, builder)"
        ) from None


def from_file(path: str | os.PathLike, function: str = "build", name: str | None = None) -> str:
    """Load the builder ``function`` from a Python file, register it, and return its name.

    For a course: each student hands in a file (``alice.py``) defining ``build()``; the
    model is registered under ``name`` (default: the file's stem, ``"alice"``), ready for
    ``Experiment(model="alice")`` and :func:`fmnist_edu.grid.run_grid`. The file is
    executed as a module: load only files you would run yourself.

    Raises:
        ConfigError: naming the file when it cannot be read or run, or lacks ``function``.
    """
    path = Path(path)
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(f"fmnist_edu_user_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigError(f"{path}: not a Python file that can be loaded")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the student's code: report it in one line
        raise ConfigError(f"{path}: running it failed: {type(exc).__name__}: {exc}") from None
    builder = getattr(module, function, None)
    if not callable(builder):
        raise ConfigError(f"{path}: defines no function {function}() that builds the model")
    register(name, builder, replace=True)
    return name


def name_of(builder: Builder) -> str:
    """The name ``builder`` is registered under, or (registering it) its own name."""
    for name, known in _BUILDERS.items():
        if known is builder:
            return name
    name = getattr(builder, "__name__", "")
    if not name.isidentifier():  # a lambda, a partial: no usable name
        raise ConfigError(
            f"model={builder!r}: give a named function, or register it first with "
            "fmnist_edu.models.register(name, builder)"
        )
    register(name, builder, replace=True)
    return name


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _source(obj: object) -> str:
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):  # defined in a REPL: the architecture still counts
        return _qualname(obj)


def fingerprint(builder: Builder) -> str:
    """A short hash of what decides the model: source of builder and classes, and layers.

    Built on the ``meta`` device (shapes only: no memory, no random numbers drawn).
    """
    with torch.device("meta"):
        model = builder()
    classes = {type(m) for m in model.modules() if not type(m).__module__.startswith("torch.")}
    parts = [_source(builder), repr(model)]
    parts += [_source(cls) for cls in sorted(classes, key=_qualname)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def check_io(model: nn.Module, name: str) -> None:
    """Fail before training unless ``model`` maps ``[N, 1, 28, 28]`` to ``[N, 10]``.

    Runs one batch of two blank images through a copy in eval mode, so neither the
    model's state (batch-norm statistics) nor the random generators change.

    Raises:
        ConfigError: naming the model, the expected input and output, and what happened.
    """
    expected = "images shaped (N, 1, 28, 28) to logits shaped (N, 10)"
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model {name!r}: the builder returned {type(model).__name__}, "
                          "not a torch.nn.Module")  # fmt: skip
    probe = copy.deepcopy(model).eval()
    state = torch.get_rng_state()
    try:
        device = next(iter(probe.parameters()), torch.empty(0)).device
        with torch.no_grad():
            out = probe(torch.zeros(2, *INPUT_SHAPE, device=device))
    except Exception as exc:  # any error in the user's forward pass is a shape/config error
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"model {name!r} must map {expected}; a batch (2, 1, 28, 28) "
                          f"fails in its forward pass: {detail}") from None  # fmt: skip
    finally:
        torch.set_rng_state(state)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, NUM_OUTPUTS):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"model {name!r} must map {expected}; a batch (2, 1, 28, 28) "
                          f"gave {got}")  # fmt: skip
