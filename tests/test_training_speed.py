"""The fast paths of the training loop give the plain loop's results, bit for bit.

Sums on the device against the Python sums the loop used before; the CNN's fused ReLU ->
pool against its modules run in turn; the CUDA-graph path against the plain loop, on a
CPU through a stand-in capture (records without running, replays by running), and on a
GPU for real when one is present. ``predict`` against its old settings.
"""

from __future__ import annotations

import contextlib
import logging

import pytest
import torch
from torch import nn

from fmnist_edu import cuda_graph, data, models, training

CUDA = torch.cuda.is_available()


def _split(subset, n):
    train, _ = data.train_val_split(subset.train)
    return data.stratified_limit(train, n)


def _plain_reference(model, split, epochs, batch_size, seed, augment):
    """The loop as it was before the fast paths: a host sync and Python sums every step."""
    training.seed_everything(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(training.derived_seed(seed, "augment"))
    augment_fn = training.AUGMENTATIONS[augment]
    rows = []
    with training.deterministic_algorithms():
        for _ in range(epochs):
            model.train()
            total_loss, correct = 0.0, 0
            for idx in training._batches(len(split), batch_size, shuffle):
                batch = split.images[idx]
                if augment_fn is not None:
                    batch = augment_fn(batch, augment_generator)
                x, y = training.to_inputs(batch), split.labels[idx]
                logits = model(x)
                loss = loss_fn(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(idx)
                correct += int((logits.argmax(1) == y).sum())
            rows.append((total_loss / len(split), correct / len(split)))
    return rows


def _run(name, split, seed=2, epochs=2, batch_size=128, augment="none", **kwargs):
    training.seed_everything(seed)
    net = models.build_model(name)
    history = training.train(
        net, split, epochs=epochs, batch_size=batch_size, seed=seed, progress=False,
        augment=augment, **kwargs,
    )  # fmt: skip
    return net, history


def _same(a, b) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("name, augment", [("cnn", "none"), ("mlp", "shift")])
def test_device_side_sums_give_the_plain_loops_history(subset, name, augment):
    split = _split(subset, 300)  # batches of 128, 128 and 44
    net, history = _run(name, split, augment=augment, device="cpu")
    training.seed_everything(2)
    reference = models.build_model(name).to(memory_format=torch.channels_last)
    rows = _plain_reference(reference, split, 2, 128, 2, augment)
    assert list(zip(history.column("loss"), history.column("train_accuracy"), strict=True)) == rows
    assert _same(net, reference)


class _Recorder:
    """A stand-in for CUDA-graph capture on a CPU: records without running, replays by running."""

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.captures, self.replays = fail, 0, 0

    def capture(self, fn):
        self.captures += 1
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")

        def replay():
            self.replays += 1
            fn()

        return replay


def _graphed_on_cpu(monkeypatch, recorder):
    monkeypatch.setattr(training, "_graphed", lambda device, flag: flag)
    steps = []

    class Stand_in(cuda_graph.GraphedStep):
        def __init__(self, step, images, labels):
            super().__init__(step, images, labels, 3, recorder.capture, contextlib.nullcontext)
            steps.append(self)

    monkeypatch.setattr(cuda_graph, "GraphedStep", Stand_in)
    return steps


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_graph_replays_give_the_plain_loops_results(subset, monkeypatch, name):
    split = _split(subset, 300)  # per epoch: two full batches, one of 44
    plain_net, plain = _run(name, split, epochs=3, device="cpu", cuda_graph=False)
    recorder = _Recorder()
    steps = _graphed_on_cpu(monkeypatch, recorder)
    net, history = _run(name, split, epochs=3, device="cpu", cuda_graph=True)
    # Six full batches: three warm-up steps, the captured one replayed, two more replays;
    # the three batches of 44 ran eagerly.
    assert len(steps) == 1 and steps[0].batch_size == 128
    assert (recorder.captures, recorder.replays) == (1, 3)
    assert history.column("loss") == plain.column("loss")
    assert history.column("train_accuracy") == plain.column("train_accuracy")
    assert _same(net, plain_net)


def test_a_failed_capture_is_logged_and_training_goes_on_unchanged(subset, monkeypatch, caplog):
    split = _split(subset, 300)
    plain_net, plain = _run("mlp", split, epochs=3, device="cpu", cuda_graph=False)
    recorder = _Recorder(fail=True)
    _graphed_on_cpu(monkeypatch, recorder)
    with caplog.at_level(logging.WARNING, logger="fmnist_edu.cuda_graph"):
        net, history = _run("mlp", split, epochs=3, device="cpu", cuda_graph=True)
    assert recorder.captures == 1 and recorder.replays == 0  # never tried again
    assert "capturing the training step in a CUDA graph failed" in caplog.text
    assert "operation not permitted" in caplog.text
    assert history.column("loss") == plain.column("loss") and _same(net, plain_net)


def test_a_split_smaller_than_a_batch_never_builds_a_graph(subset, monkeypatch):
    steps = _graphed_on_cpu(monkeypatch, _Recorder())
    _run("mlp", _split(subset, 100), epochs=1, device="cpu", cuda_graph=True)
    assert steps == []


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_cuda_graph_gives_the_plain_loops_results_on_a_gpu(subset, name, caplog):
    split = _split(subset, 1000)  # 7 full batches and one of 104 per epoch
    with caplog.at_level(logging.WARNING, logger="fmnist_edu.cuda_graph"):
        graph_net, graphed = _run(name, split, epochs=3, device="cuda", cuda_graph=True)
    assert "failed" not in caplog.text  # the graph was used
    plain_net, plain = _run(name, split, epochs=3, device="cuda", cuda_graph=False)
    assert graphed.column("loss") == plain.column("loss")
    assert graphed.column("train_accuracy") == plain.column("train_accuracy")
    assert _same(graph_net, plain_net)


def _trained(options, fuse, subset, device, n=256):
    training.seed_everything(0)
    model = models.CNN(**options)
    model.fuse = fuse
    train = _split(subset, n)
    history = training.train(model, train, epochs=2, batch_size=64, progress=False, device=device)
    return model, history


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if CUDA else []))
@pytest.mark.parametrize(
    "options",
    [{}, {"padding": "valid", "depth": 3}, {"convs_per_block": 2}, {"downsample": "stride"}],
)
def test_fused_training_gives_the_module_by_module_weights_bit_for_bit(subset, options, device):
    """The CNN's fused ReLU -> pool (models.fused_features) against its modules in turn."""
    fused, h_fused = _trained(options, True, subset, device)
    plain, h_plain = _trained(options, False, subset, device)
    assert h_fused.column("loss") == h_plain.column("loss")
    for (name, a), b in zip(fused.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@torch.no_grad()
def _old_predict(model, split, batch_size=1024):
    """``predict`` as it was: the model's weights as they come, batches of 1,024."""
    model.eval()
    out = [model(training.to_inputs(split.images[i : i + batch_size])).argmax(1)
           for i in range(0, len(split), batch_size)]  # fmt: skip
    return torch.cat(out)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_predict_in_channels_last_gives_the_old_predictions(subset, name):
    training.seed_everything(0)
    trained = models.build_model(name)
    training.train(trained, _split(subset, 300), epochs=1, progress=False, device="cpu")
    stored = models.build_model(name)  # as read back from the store: default layout
    stored.load_state_dict({k: v.contiguous() for k, v in trained.state_dict().items()})
    expected = _old_predict(stored, subset.test)
    assert torch.equal(training.predict(stored, subset.test), expected)
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in stored.parameters() if p.dim() == 4)  # fmt: skip
    assert torch.equal(training.predict(stored, subset.test, batch_size=7), expected)


@pytest.mark.skipif(
    not training.keep_freed_memory(), reason="glibc's mallopt only (Linux with glibc)"
)
def test_freed_feature_maps_are_reused_without_page_faults():
    resource = pytest.importorskip("resource")
    side = 12_800_000 // 4  # the CNN's first feature maps at batch 128: 12.8 MB
    torch.ones(side)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(side)  # allocated, written, freed
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 20 * side * 4 // 4096 // 10  # mapped afresh, each would fault 3,125 pages
