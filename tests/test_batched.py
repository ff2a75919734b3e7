"""The seeds of a design trained as one batched model equal their solo runs (within rounding).

Batched kernels (a grouped convolution, a batched matrix product) sum in another order
than the solo ones, so the weights agree within a tolerance, not bit for bit. Adam's first
step moves every weight by about the learning rate times the sign of its gradient, so a
gradient near zero whose sign the rounding flips moves one weight by up to twice the
learning rate; the CNN's max-pooling, which sends a window's gradient to its largest
value, turns a rounding difference between two near-equal values into such a flip. The
tolerance after one step is therefore: all but one in 100,000 weights within 1e-4 of the
solo run's. A wrong implementation (a seed given another seed's dropout masks or data
order) moves a tenth of the weights by more.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch

from fmnist_edu import batched, design, experiments, grid, models, settings, training
from fmnist_edu import cuda_graph as graphs
from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment

#: After one Adam step (lr 1e-3) a seed's weights are within this of its solo run's, all
#: but a share ``FLIPPED`` of them; a seed with another's dropout masks or batch is off by
#: about the learning rate in a tenth of its weights or more.
ONE_STEP, FLIPPED, LR = 1e-4, 1e-5, 1e-3
SEEDS = (0, 1, 2)
HERE = str(settings.default_device())  # where experiments train by default
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _split(subset, n: int) -> Split:
    return Split(subset.train.images[:n], subset.train.labels[:n])


def _built(name: str, seeds=SEEDS) -> list[torch.nn.Module]:
    out = []
    for seed in seeds:
        training.seed_everything(seed)
        out.append(models.build_model(name))
    return out


def _solo(name, split, device, seeds=SEEDS, **options) -> list[torch.nn.Module]:
    trained = _built(name, seeds)
    for model, seed in zip(trained, seeds, strict=True):
        training.train(model, split, None, epochs=1, seed=seed, device=device, progress=False,
                       **options)  # fmt: skip
    return trained


def _batched(name, split, device, seeds=SEEDS, **options) -> list[torch.nn.Module]:
    trained = _built(name, seeds)
    batched.train_seeds(trained, [split] * len(seeds), [None] * len(seeds), list(seeds),
                        epochs=1, device=device, progress=False, **options)  # fmt: skip
    return trained


def _gap(a: torch.nn.Module, b: torch.nn.Module) -> float:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max((p - q).abs().max().item() for p, q in pairs)


def _gaps(solo, together) -> list[float]:
    return [_gap(a, b) for a, b in zip(solo, together, strict=True)]


def _off(solo, together) -> list[float]:
    """Per seed, the share of weights further than ``ONE_STEP`` from the solo run's."""
    out = []
    for a, b in zip(solo, together, strict=True):
        pairs = zip(a.parameters(), b.parameters(), strict=True)
        gaps = torch.cat([(p - q).abs().flatten() for p, q in pairs])
        out.append(float((gaps > ONE_STEP).float().mean()))
    return out


@pytest.mark.parametrize(("name", "augment"), [("mlp", None), ("cnn", "shift")])
def test_one_step_equals_each_seeds_solo_step(subset, name, augment):
    split = _split(subset, 128)  # one full batch: one step
    solo = _solo(name, split, "cpu", augment=augment)
    together = _batched(name, split, "cpu", augment=augment)
    assert max(_off(solo, together)) <= FLIPPED
    assert max(_gaps(solo, together)) <= 2 * LR * 1.001


def test_a_seed_with_another_seeds_dropout_is_caught(subset, monkeypatch):
    split = _split(subset, 128)
    solo = _solo("mlp", split, "cpu")
    original = batched._SeedRandom.__init__

    def swapped(self, seeds, device):
        original(self, seeds, device)
        self.states[0], self.states[1] = self.states[1], self.states[0]

    monkeypatch.setattr(batched._SeedRandom, "__init__", swapped)
    off = _off(solo, _batched("mlp", split, "cpu"))
    assert off[0] > 0.1 and off[1] > 0.1 and off[2] <= FLIPPED


def test_a_seed_with_another_seeds_batches_is_caught(subset, monkeypatch):
    batched_shuffles = batched._shuffles
    split = _split(subset, 256)  # two steps: a shuffle that differs changes both
    solo = _solo("mlp", split, "cpu", seeds=(0, 1))
    monkeypatch.setattr(batched, "_shuffles", lambda seeds: batched_shuffles([0] * len(seeds)))
    off = _off(solo, _batched("mlp", split, "cpu", seeds=(0, 1)))
    assert off[0] <= FLIPPED < 0.1 < off[1]


def test_a_whole_run_matches_solo_and_is_deterministic(subset, store, tmp_path):
    e = Experiment(model="mlp", epochs=2, limit=600)
    solo = experiments.run_seeds(e, SEEDS, subset, store, trainer="solo", progress=False)
    runs = [
        experiments.compute_seeds([dataclasses.replace(e, seed=s) for s in SEEDS], subset)
        for _ in range(2)
    ]
    for a, b, again in zip(solo, *runs, strict=True):
        assert b.device == f"{HERE} (batched: 3 seeds)" and a.device == HERE
        gaps = torch.cat(
            [(a.state_dict[k] - b.state_dict[k]).abs().flatten() for k in a.state_dict]
        )
        # Measured on a CPU: at most 2e-6 here, 3e-4 after 3 epochs on the whole subset; a
        # GPU may flip the sign of a near-zero gradient (up to twice the learning rate).
        assert float((gaps > 1e-3).float().mean()) <= FLIPPED and gaps.max() < 4 * LR
        assert all(torch.equal(b.state_dict[k], again.state_dict[k]) for k in b.state_dict)
        assert a.test.accuracy == pytest.approx(b.test.accuracy, abs=2 / a.test_images)
        assert [x.loss for x in a.history.epochs] == pytest.approx(
            [x.loss for x in b.history.epochs], rel=1e-5
        )
        assert a.train_images == b.train_images and a.parameters == b.parameters


def test_run_seeds_loads_stored_seeds_and_trains_the_rest_together(subset, store):
    e = Experiment(model="mlp", epochs=1, limit=300)
    first = experiments.run(dataclasses.replace(e, seed=1), subset, store, progress=False)
    runs = experiments.run_seeds(e, [0, 1, 2], subset, store, trainer="batched", progress=False)
    assert [r.experiment.seed for r in runs] == [0, 1, 2]
    assert runs[1].from_store and runs[1].device == first.device == HERE
    assert [runs[0].device, runs[2].device] == [f"{HERE} (batched: 2 seeds)"] * 2
    again = experiments.run_seeds(e, [0, 1, 2], subset, store, trainer="batched")
    assert all(r.from_store for r in again)  # one entry per seed, under the solo run's key
    assert torch.equal(again[2].state_dict["fc1.weight"], runs[2].state_dict["fc1.weight"])


def test_the_grid_trains_each_designs_missing_seeds_together(subset, store):
    plan = design.Plan(seeds=(0, 1), epochs=1, limit=200)
    runs = plan.runs(Experiment(model="mlp")) + plan.runs(Experiment(model="mlp", hidden=(32,)))
    results = grid.run_grid(runs, subset, store, trainer="batched", progress=False)
    assert [r.experiment for r in results] == runs
    assert {r.device for r in results} == {f"{HERE} (batched: 2 seeds)"}
    assert all(r.from_store for r in grid.run_grid(runs, subset, store, trainer="solo"))


def test_when_seeds_are_batched(monkeypatch):
    mlp, cnn = Experiment(model="mlp", epochs=1), Experiment(model="cnn", epochs=1)
    seeds = [dataclasses.replace(mlp, seed=s) for s in SEEDS]
    monkeypatch.delenv(settings.TRAINER_ENV, raising=False)
    assert not experiments.batches(seeds, torch.device("cpu"))  # measured not to pay
    assert not experiments.batches([dataclasses.replace(cnn, seed=s) for s in SEEDS], "cpu")
    # Not yet measured on a GPU: auto trains solo there until bench_batched shows a gain.
    assert not experiments.batches([dataclasses.replace(cnn, seed=s) for s in SEEDS], "cuda")
    assert experiments.batches([dataclasses.replace(cnn, seed=s) for s in SEEDS], "cuda", "batched")
    assert experiments.batches(seeds, "cpu", "batched")
    assert not experiments.batches(seeds[:1], "cpu", "batched")  # one seed: solo
    assert not experiments.batches([mlp, dataclasses.replace(cnn, seed=1)], "cpu", "batched")
    assert not experiments.batches([mlp, mlp], "cpu", "batched")  # the same seed twice
    assert not experiments.batches(seeds, "cpu", "solo")
    monkeypatch.setenv(settings.TRAINER_ENV, "solo")
    assert not experiments.batches(seeds, "cpu")
    monkeypatch.setenv(settings.TRAINER_ENV, "fast")
    with pytest.raises(ConfigError, match="FMNIST_EDU_TRAINER='fast'"):
        experiments.batches(seeds, "cpu")
    with pytest.raises(ConfigError, match="compute_seeds"):
        experiments.compute_seeds([mlp], None)


def test_models_or_splits_of_other_shapes_are_refused(subset):
    split = _split(subset, 64)
    two = [models.build_model("mlp"), models.build_model("mlp", hidden=(32,))]
    with pytest.raises(ConfigError, match="differ in shape"):
        batched.train_seeds(two, [split] * 2, [None] * 2, [0, 1])
    with pytest.raises(ConfigError, match="differ in shape"):
        batched.train_seeds(_built("mlp", (0, 1)), [split, _split(subset, 32)], [None] * 2, [0, 1])


def test_the_graph_path_refills_each_steps_masks(subset, monkeypatch):
    """The graphed step reads its inputs and masks from static tensors, refilled each step;
    with a stand-in capture (a replay reruns the step on them) it gives the plain loop's
    weights bit for bit, the last, smaller batch included."""
    split = _split(subset, 128 * 5 + 40)
    plain = _batched("mlp", split, "cpu")
    replays = []

    def capture(fn):
        return lambda: (replays.append(1), fn())

    monkeypatch.setattr(batched, "_graphed", lambda device, cuda_graph: cuda_graph)
    monkeypatch.setattr(batched, "_graph", lambda step, images, labels: graphs.GraphedStep(
        step, images, labels, warmup=1, capture=capture, warmup_context=contextlib.nullcontext
    ))  # fmt: skip
    assert _gaps(plain, _batched("mlp", split, "cpu")) == [0.0] * len(SEEDS)
    assert len(replays) == 4  # five full steps: one warm-up, four replayed


@CUDA
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_on_a_gpu_one_step_equals_solo_and_the_graph_changes_nothing(subset, name):
    one = _split(subset, 128)
    # cuDNN may round convolutions in TF32 (a 1e-3 relative error): allow 100 times the flips
    off = _off(
        _solo(name, one, "cuda", augment="shift"), _batched(name, one, "cuda", augment="shift")
    )
    assert max(off) <= 100 * FLIPPED, off  # a seed with wrong masks: over 0.1
    split = _split(subset, 128 * 6)  # past the graph's warm-up: replayed steps
    plain = _batched(name, split, "cuda", augment="shift", cuda_graph=False)
    graphed = _batched(name, split, "cuda", augment="shift")
    assert _gaps(plain, graphed) == [0.0] * len(SEEDS)
