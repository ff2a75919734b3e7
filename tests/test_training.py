"""The training loop: deterministic per seed, learns, and evaluates consistently."""

from __future__ import annotations

import torch

from fmnist_edu import data, models, training


def _small(subset, n=600):
    train, val = data.train_val_split(subset.train)
    return data.stratified_limit(train, n), val


def _train(subset, seed, model="cnn", epochs=2):
    train, val = _small(subset)
    training.seed_everything(seed)
    net = models.build_model(model)
    history = training.train(net, train, val, epochs=epochs, seed=seed, progress=False)
    return net, history


def test_same_seed_gives_identical_metrics_and_weights(subset):
    a, ha = _train(subset, seed=3)
    b, hb = _train(subset, seed=3)
    assert ha.column("loss") == hb.column("loss")
    assert ha.column("val_accuracy") == hb.column("val_accuracy")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    _, hc = _train(subset, seed=4)
    assert hc.column("loss") != ha.column("loss")


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
