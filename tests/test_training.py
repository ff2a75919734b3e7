"""The training loop: deterministic per seed, learns, and evaluates consistently."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fmnist_edu import data, models, training
from fmnist_edu.errors import ConfigError, DataError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _small(subset, n=600):
    train, val = data.train_val_split(subset.train)
    return data.stratified_limit(train, n), val


def _train(subset, seed, model="cnn", epochs=2, device="cpu", augment=None):
    train, val = _small(subset)
    training.seed_everything(seed)
    net = models.build_model(model)
    history = training.train(
        net, train, val, epochs=epochs, seed=seed, progress=False, device=device, augment=augment
    )
    return net, history


@pytest.mark.parametrize("device", DEVICES)
def test_same_seed_gives_identical_metrics_and_weights(subset, device):
    a, ha = _train(subset, seed=3, device=device)
    b, hb = _train(subset, seed=3, device=device)
    assert ha.column("loss") == hb.column("loss")
    assert ha.column("val_accuracy") == hb.column("val_accuracy")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    _, hc = _train(subset, seed=4, device=device)
    assert hc.column("loss") != ha.column("loss")


def test_training_restores_the_callers_determinism_settings(subset):
    train, _ = _small(subset, n=100)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    try:
        torch.backends.cudnn.benchmark = True
        training.train(models.MLP(), train, epochs=1, progress=False, device="cpu")
        assert torch.backends.cudnn.benchmark is True
        assert torch.are_deterministic_algorithms_enabled() is before[0]
        with training.deterministic_algorithms():
            assert torch.are_deterministic_algorithms_enabled()
            assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before[1]


def test_shift_augmentation_is_seeded_and_changes_training(subset):
    a, ha = _train(subset, seed=3, model="mlp", augment="shift")
    b, hb = _train(subset, seed=3, model="mlp", augment="shift")
    _, plain = _train(subset, seed=3, model="mlp")
    assert ha.column("loss") == hb.column("loss")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert ha.column("loss") != plain.column("loss")


def test_a_custom_augmentation_sees_every_uint8_training_batch(subset):
    train, _ = _small(subset, n=300)
    seen = []

    def record(images, generator):
        seen.append((images.shape, images.dtype, isinstance(generator, torch.Generator)))
        return images

    training.train(models.MLP(), train, epochs=2, batch_size=128, augment=record, progress=False)
    assert len(seen) == 2 * 3  # 300 images: batches of 128, 128, 44; two epochs
    assert all(dtype == torch.uint8 and shape[1:] == (28, 28) and g for shape, dtype, g in seen)
    assert sum(shape[0] for shape, _, _ in seen) == 2 * 300
    with pytest.raises(ConfigError, match="augment='flip'"):
        training.train(models.MLP(), train, epochs=1, augment="flip", progress=False)


def test_empty_splits_are_explained(subset):
    train, val = _small(subset, n=100)
    empty = train.subset(torch.arange(0))
    with pytest.raises(DataError, match="the training split holds no images"):
        training.train(models.MLP(), empty, val, epochs=1, progress=False)
    with pytest.raises(DataError, match="the validation split holds no images"):
        training.train(models.MLP(), train, empty, epochs=1, progress=False)
    with pytest.raises(DataError, match="holds no images"):
        training.evaluate(models.MLP(), empty)
    with pytest.raises(ConfigError, match="batch_size=0"):
        training.train(models.MLP(), train, epochs=1, batch_size=0, progress=False)


def test_training_learns(subset):
    net, history = _train(subset, seed=0, model="mlp", epochs=5)
    assert history.column("loss")[-1] < history.column("loss")[0]
    assert [e.epoch for e in history.epochs] == [1, 2, 3, 4, 5]
    assert training.evaluate(net, subset.test).accuracy > 0.5  # chance is 0.1


def test_evaluation_is_consistent(subset):
    net, _ = _train(subset, seed=0, model="mlp", epochs=1)
    result = training.evaluate(net, subset.test)
    confusion = torch.tensor(result.confusion)
    assert confusion.sum() == len(subset.test)
    assert confusion.sum(1).tolist() == subset.test.class_counts()
    assert abs(confusion.diag().sum() / len(subset.test) - result.accuracy) < 1e-6
    predicted = training.predict(net, subset.test)
    for c in range(10):
        mask = subset.test.labels == c
        assert (
            abs(float((predicted[mask] == c).float().mean()) - result.per_class_accuracy[c]) < 1e-6
        )


def test_results_round_trip_through_json_ready_data(subset):
    net, history = _train(subset, seed=0, model="mlp", epochs=2)
    evaluation = training.evaluate(net, subset.test)
    assert training.History.from_dict(dataclasses.asdict(history)) == history
    assert training.Evaluation.from_dict(dataclasses.asdict(evaluation)) == evaluation


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(accuracy="high"), "accuracy='high'"),
        (lambda d: d.update(accuracy=1.5), "accuracy=1.5"),
        (lambda d: d["per_class_accuracy"].pop(), "per_class_accuracy: expected a list of 10"),
        (lambda d: d["confusion"][3].__setitem__(2, -1), "confusion=-1"),
        (lambda d: d["confusion"][0].__setitem__(0, 2.5), "confusion=2.5"),
        (lambda d: d.pop("confusion"), "expected the fields"),
    ],
)
def test_stored_evaluations_with_wrong_types_are_rejected(change, message):
    good = {"accuracy": 0.5, "per_class_accuracy": [0.5] * 10, "confusion": [[1] * 10] * 10}
    assert training.Evaluation.from_dict(good).accuracy == 0.5
    bad = {k: [list(r) for r in v] if k == "confusion" else v for k, v in good.items()}
    bad["per_class_accuracy"] = list(good["per_class_accuracy"])
    change(bad)
    with pytest.raises(ValueError, match=message):
        training.Evaluation.from_dict(bad)


def test_stored_histories_with_wrong_types_are_rejected():
    epoch = {"epoch": 1, "loss": 0.5, "train_accuracy": 0.8, "val_accuracy": 0.7, "seconds": 1}
    with pytest.raises(ValueError, match="expected the fields"):
        training.History.from_dict({"epochs": [], "x": 1})
    with pytest.raises(ValueError, match="epochs: expected a list"):
        training.History.from_dict({"epochs": "abc"})
    with pytest.raises(ValueError, match="not numbered 1 to 2"):
        training.History.from_dict({"epochs": [epoch, epoch]})
    with pytest.raises(ValueError, match="val_accuracy"):
        training.History.from_dict({"epochs": [epoch | {"val_accuracy": "x"}]})


def test_inputs_are_scaled_batches():
    images = torch.tensor([[[0, 255] * 14] * 28], dtype=torch.uint8)
    x = training.to_inputs(images)
    assert x.shape == (1, 1, 28, 28)
    assert x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() == 1.0


def test_progress_bar_is_quiet_when_output_is_not_a_terminal(subset, capsys):
    train, _ = _small(subset, n=200)
    training.train(models.MLP(), train, epochs=1)  # progress=None: only on a terminal
    assert capsys.readouterr().err == ""
    training.train(models.MLP(), train, epochs=1, progress=True)
    assert "epochs" in capsys.readouterr().err
