"""Many small networks trained at once: every fold, seed and learning rate in one step.

Tuning a network fairly means training it many times: once per outer fold, inner fold,
seed and setting (:mod:`fmnist_edu.beyond.tuning`). On a table of a few hundred rows
each training step of one tiny network costs far more in Python and autograd overhead
than in arithmetic, so :func:`train_bank` trains ``K`` copies side by side. Their weights
are stacked (:func:`torch.func.stack_module_state`) and one vectorised forward pass
(:func:`torch.func.vmap`) computes every copy's logits on every row. Each copy has its own

- initial weights (its ``seed``: the same weights :func:`torch.manual_seed` and the
  model's constructor give it alone),
- training rows (a mask: the loss of a copy counts only its rows, averaged over them),
- inputs (each copy's columns standardised on its own training rows),
- learning rate (Adam's update, written out here, takes one rate per copy).

The copies share nothing else: the loss is a sum of their own losses, so each copy's
gradient is the one it would get alone, and each trains full-batch exactly as
:func:`fmnist_edu.beyond.fit.fit` would train it with one batch of all its rows (up to
float rounding).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fmnist_edu.beyond.fit import one_thread
from fmnist_edu.errors import ConfigError

BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
EPS = 1e-8


def train_bank(
    build: Callable[[], nn.Module],
    inputs: torch.Tensor,
    labels: torch.Tensor,
    train_rows: torch.Tensor,
    seeds: Sequence[int],
    lrs: Sequence[float],
    checkpoints: Sequence[int],
) -> torch.Tensor:
    """Train ``K`` copies of ``build()`` full-batch with Adam; return their predictions.

    Args:
        build: makes one untrained model mapping rows ``[B, F]`` to logits ``[B, C]``.
        inputs: ``float [K, N, F]``, each copy's view of all ``N`` rows.
        labels: ``int64 [N]``, the class of every row.
        train_rows: ``bool [K, N]``, the rows each copy trains on (at least one each).
        seeds: ``K`` seeds for the initial weights.
        lrs: ``K`` Adam learning rates.
        checkpoints: step counts (full-batch Adam steps) at which to record predictions.

    Returns:
        ``int64 [len(checkpoints), K, N]``: each copy's predicted class for every row
        after that many steps, in the order of ``checkpoints``.
    """
    k, n = train_rows.shape
    if inputs.shape[:2] != (k, n) or len(labels) != n or len(seeds) != k or len(lrs) != k:
        raise ConfigError(
            f"train_bank: inputs {tuple(inputs.shape)}, labels {len(labels)}, train_rows "
            f"{(k, n)}, {len(seeds)} seeds and {len(lrs)} rates do not agree"
        )
    counts = train_rows.sum(1, keepdim=True)
    if not checkpoints or min(checkpoints) < 0 or int(counts.min()) == 0:
        raise ConfigError("train_bank needs checkpoints >= 0 and training rows for every copy")
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build())
    params, buffers = torch.func.stack_module_state(models)
    params = {name: p.detach().requires_grad_() for name, p in params.items()}
    skeleton = copy.deepcopy(models[0]).to("meta")

    def one(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(skeleton, (p, b), (x,))

    forward = torch.func.vmap(one)
    weights = train_rows.double() / counts  # [K, N]: a mean over each copy's rows
    rate = torch.as_tensor(lrs, dtype=torch.float32)
    moments = {name: (torch.zeros_like(p), torch.zeros_like(p)) for name, p in params.items()}
    wanted = {step: i for i, step in enumerate(checkpoints)}
    predictions = torch.empty(len(checkpoints), k, n, dtype=torch.int64)
    with one_thread():
        for step in range(max(checkpoints) + 1):
            logits = forward(params, buffers, inputs)  # [K, N, C]
            if step in wanted:
                predictions[wanted[step]] = logits.detach().argmax(-1)
            if step == max(checkpoints):
                break
            losses = F.cross_entropy(logits.flatten(0, 1), labels.repeat(k), reduction="none").view(
                k, n
            )
            loss = (losses * weights.to(losses.dtype)).sum()
            grads = torch.autograd.grad(loss, list(params.values()))
            _adam_step(params, grads, moments, rate, step + 1)
    return predictions


@torch.no_grad()
def _adam_step(
    params: dict[str, torch.Tensor],
    grads: Sequence[torch.Tensor],
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]],
    rate: torch.Tensor,
    t: int,
) -> None:
    """One Adam step, as torch.optim.Adam computes it, with a learning rate per copy."""
    b1, b2 = BETAS
    for (name, p), g in zip(params.items(), grads, strict=True):
        m, v = moments[name]
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v.sqrt() / (1 - b2**t) ** 0.5).add_(EPS)
        step = rate.view(-1, *[1] * (p.ndim - 1)) / (1 - b1**t)
        p.sub_(step * m / denom)


def standardized(x: torch.Tensor, train_rows: torch.Tensor) -> torch.Tensor:
    """Each copy's view of the rows ``x`` (``[N, F]``): every column shifted and scaled by
    the mean and standard deviation of that copy's training rows (``bool [K, N]``), as
    scikit-learn's ``StandardScaler`` fitted on them would. Returns ``float32 [K, N, F]``.
    """
    w = train_rows.double().unsqueeze(-1)  # [K, N, 1]
    x = x.double().unsqueeze(0)  # [1, N, F]
    mean = (w * x).sum(1, keepdim=True) / w.sum(1, keepdim=True)
    var = (w * (x - mean) ** 2).sum(1, keepdim=True) / w.sum(1, keepdim=True)
    scale = torch.where(var > 0, var.sqrt(), torch.ones_like(var))  # constant columns: as is
    return ((x - mean) / scale).float()
