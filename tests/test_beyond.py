"""fmnist_edu.beyond: the small loop, the set, long-range and permuted-pixel experiments."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fmnist_edu import data, experiments, models, permutation, settings
from fmnist_edu.beyond import fit, longrange, permuted, sets
from fmnist_edu.errors import ConfigError, DataError

# --- the small loop --------------------------------------------------------------------


def _blobs(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    return torch.randn(n, 4, generator=g) + 3 * labels[:, None], labels


def test_fit_learns_and_is_deterministic():
    x, y = _blobs()
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        losses = fit.fit(net, x, y, epochs=15, batch_size=32, lr=1e-2, seed=3)
        nets.append(net)
    assert losses[-1] < losses[0] / 2
    assert float((fit.predict(nets[0], x) == y).float().mean()) > 0.95
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)
    assert not nets[0].training


def test_fit_refuses_bad_input():
    x, y = _blobs(10)
    net = torch.nn.Linear(4, 2)
    with pytest.raises(DataError, match="10 inputs and 9 labels"):
        fit.fit(net, x, y[:9], epochs=1)
    with pytest.raises(DataError, match="at least one"):
        fit.fit(net, x[:0], y[:0], epochs=1)
    with pytest.raises(ConfigError, match="epochs=0"):
        fit.fit(net, x, y, epochs=0)


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with fit.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# --- sets ------------------------------------------------------------------------------


def test_sets_are_seeded_and_labelled_by_their_sum():
    a, b = sets.make_sets(300, seed=4), sets.make_sets(300, seed=4)
    assert torch.equal(a.elements, b.elements) and torch.equal(a.labels, b.labels)
    assert a.elements.shape == (300, sets.SIZE) and 0 <= a.elements.min() <= a.elements.max() <= 9
    assert torch.equal(a.labels, (a.elements.sum(1) > sets.THRESHOLD).long())
    assert 0.3 < float(a.labels.float().mean()) < 0.7
    assert not torch.equal(a.elements, sets.make_sets(300, seed=5).elements)
    with pytest.raises(ConfigError, match="n=0"):
        sets.make_sets(0, seed=0)


def test_relisting_keeps_each_set_and_its_label():
    a = sets.make_sets(50, seed=0)
    b = sets.shuffled(a, seed=1)
    assert torch.equal(a.elements.sort(1).values, b.elements.sort(1).values)
    assert torch.equal(a.labels, b.labels)
    assert not torch.equal(a.elements, b.elements)


def test_deep_sets_is_bit_identical_for_every_order_and_the_cnn_is_not():
    test = sets.make_sets(400, seed=2)
    torch.manual_seed(0)
    deep, cnn = sets.DeepSets(), sets.SetCNN()
    assert sets.order_effect(deep, test, shuffles=3).identical
    effect = sets.order_effect(cnn, test, shuffles=3)
    assert not effect.identical and effect.max_logit_change > 0
    # Added in the order listed, the sum differs only by rounding.
    torch.manual_seed(0)
    plain = sets.DeepSets(sorted_sum=False)
    assert sets.order_effect(plain, test, shuffles=3).max_logit_change < 1e-4


def test_set_models_train_and_report_per_set_correctness():
    train, test = sets.make_sets(300, seed=1), sets.make_sets(200, seed=2)
    result = sets.train_model("Deep Sets", train, test, seed=0)
    assert result.correct.shape == (200,) and result.correct.dtype == torch.bool
    assert result.accuracy > 0.8  # the sum is easy for a sum-pooling model
    again = sets.train_model("Deep Sets", train, test, seed=0)
    assert torch.equal(result.correct, again.correct)
    short = sets.make_sets(100, seed=3, size=5)  # the CNN's dense head follows the size
    assert sets.train_model("1-D CNN", short, short, seed=0).correct.shape == (100,)
    with pytest.raises(ConfigError, match="choose one of"):
        sets.train_model("RNN", train, test, seed=0)


# --- long-range ------------------------------------------------------------------------


def test_pairs_hold_two_marks_in_opposite_corners():
    split = longrange.make_pairs(200, seed=0)
    again = longrange.make_pairs(200, seed=0)
    assert torch.equal(split.images, again.images) and torch.equal(split.labels, again.labels)
    assert split.images.shape == (200, 28, 28) and split.images.dtype == torch.uint8
    ink = split.images > 0
    assert ink.sum((1, 2)).eq(18).all()  # two marks of 9 ink pixels
    corner = longrange.MARK + longrange.JITTER
    assert ink[:, :corner, :corner].sum((1, 2)).eq(9).all()
    assert ink[:, longrange.FAR :, longrange.FAR :].sum((1, 2)).eq(9).all()
    assert 0.35 < float(split.labels.float().mean()) < 0.65


def test_min_window_is_the_closest_the_marks_can_come():
    closest = 28
    for tl in range(longrange.JITTER + 1):
        for br in range(longrange.JITTER + 1):
            far_edge = tl + longrange.MARK - 1
            near_edge = longrange.FAR + br
            closest = min(closest, near_edge - far_edge + 1)
    assert longrange.min_window() == closest == 14


def test_labels_say_whether_the_shapes_match():
    shapes = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    split = longrange.draw(shapes, torch.zeros(4, 4, dtype=torch.long))
    assert split.labels.tolist() == [1, 0, 0, 1]
    assert torch.equal(split.images[0, :5, :5], longrange.MARKS[0])
    assert torch.equal(split.images[1, 20:25, 20:25], longrange.MARKS[1])
    with pytest.raises(ConfigError, match=r"\[0, 3\]"):
        longrange.draw(shapes, torch.full((4, 4), 4))
    pairs, centres = longrange.examples()
    assert pairs.labels.tolist() == [1, 0, 0, 1] and len(centres) == 4


def test_decision_fields_come_from_the_summary():
    assert longrange.decision_field(longrange.MarkNet("average")) == 5
    assert longrange.decision_field(longrange.MarkNet("average", layers=7)) == 15
    assert longrange.decision_field(longrange.MarkNet("dense")) == 28
    assert longrange.decision_field(models.MLP(num_classes=2)) == 28
    with pytest.raises(ConfigError, match="head="):
        longrange.MarkNet("max")


def test_a_narrow_fully_convolutional_network_adds_one_term_per_mark():
    """The ceiling's argument: f(a, b) - f(a, a) == f(b, b) - f(b, a) for any weights."""
    torch.manual_seed(0)
    net = longrange.MarkNet("average").eval()
    offsets = torch.tensor([[1, 2, 0, 3]] * 4)
    split = longrange.draw(torch.tensor([[0, 1], [0, 0], [1, 1], [1, 0]]), offsets)
    with torch.no_grad():
        f = net(split.images.unsqueeze(1).float() / 255).double()
    torch.testing.assert_close(f[0] - f[1], f[2] - f[3], rtol=0, atol=1e-6)
    dense = longrange.MarkNet("dense").eval()
    with torch.no_grad():
        g = dense(split.images.unsqueeze(1).float() / 255).double()
    assert not torch.allclose(g[0] - g[1], g[2] - g[3], atol=1e-4)


def test_majority_share_spots_a_network_that_answers_one_class():
    split = longrange.make_pairs(50, seed=0)
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 2))
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.tensor([0.0, 1.0]))
    assert longrange.majority_share(constant, split) == (1, 1.0)
    with torch.no_grad():  # class 1 when the pixel at (4, 4) is inked: it depends on the marks
        constant[1].weight[1, 4 * 28 + 4] = 1.0
        constant[1].bias.copy_(torch.tensor([0.0, -0.5]))
    assert 0.5 <= longrange.majority_share(constant, split)[1] < 1.0


def test_the_best_sum_of_one_mark_votes_is_a_constant():
    """Why the fully convolutional network answers one class: a logistic model that adds
    one term per mark (one-hot shapes) learns to give every image about the same
    probability, the training share of "same": one mark alone says nothing."""
    g = torch.Generator().manual_seed(1)
    shapes = torch.randint(0, 2, (2000, 2), generator=g)  # as make_pairs draws them
    labels = (shapes[:, 0] == shapes[:, 1]).long()
    one_hot = torch.cat([torch.nn.functional.one_hot(shapes[:, k], 2) for k in (0, 1)], 1)
    additive = torch.nn.Linear(4, 2)
    fit.fit(additive, one_hot.float(), labels, epochs=40, lr=1e-2)
    p_same = fit.logits(additive, one_hot.float()).softmax(1)[:, 1]
    share = labels.float().mean()
    assert float((p_same - share).abs().max()) < 0.05  # the marks barely move it
    assert float((fit.predict(additive, one_hot.float()) == labels).float().mean()) < 0.6


def test_long_range_models_train_with_the_books_loop():
    split = longrange.make_pairs(128, seed=0)
    a = longrange.train_model("MLP", split, seed=1)
    b = longrange.train_model("MLP", split, seed=1)
    assert not a.training
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ConfigError, match="choose one of"):
        longrange.train_model("RNN", split, seed=0)


# --- the permuted-pixel experiments ----------------------------------------------------


def test_the_chapter_experiments_follow_the_profile():
    quick = permuted.chapter_experiments(settings.profile("quick"))
    full = permuted.chapter_experiments(settings.profile("full"))
    assert list(quick) == ["MLP", "MLP, permuted", "MLP, relabelled", "CNN", "CNN, permuted"]
    assert {e.limit for e in quick.values()} == {1000}
    assert {e.limit for e in full.values()} == {None}
    assert {e.epochs for e in full.values()} == {10}
    assert quick["MLP, relabelled"].relabel and quick["CNN, permuted"].permute == 0
    assert quick["CNN"].config() == experiments.Experiment(epochs=3, limit=1000).config()


def test_the_twin_check_measures_agreement(subset, store):
    small = dataclasses.replace(
        subset,
        train=data.Split(subset.train.images[:300], subset.train.labels[:300]),
        test=data.Split(subset.test.images[:150], subset.test.labels[:150]),
        fingerprint=f"{subset.fingerprint}-twin",
    )
    e = experiments.Experiment(model="mlp", epochs=1, limit=200)
    plain = experiments.run(e, small, store)
    twin_e = dataclasses.replace(e, permute=permuted.PERMUTATION, relabel=True)
    twin = experiments.run(twin_e, small, store)
    fresh = experiments.run(dataclasses.replace(twin_e, relabel=False), small, store)
    permuted_test = experiments.evaluation_split(twin_e, small)
    check = permuted.twin_check(plain, twin, small.test, permuted_test)
    assert check.max_weight_difference < 1e-4 and check.same_predictions == 1.0
    assert check.accuracy_difference == 0
    other = permuted.twin_check(plain, fresh, small.test, permuted_test)
    assert other.max_weight_difference > 1e-2


def test_permuted_and_plain_stacks_both():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    both = permuted.permuted_and_plain(images)
    assert both.shape == (6, 28, 28) and torch.equal(both[:3], images)
    order = permutation.pixel_permutation(permuted.PERMUTATION)
    assert torch.equal(both[3:], permutation.permute_pixels(images, order))


def test_an_untrained_twin_differs_only_by_rounding_and_agreement_counts_matches(subset):
    images = subset.test.images[:200]
    assert permuted.initial_gap(0, images) < 1e-5
    torch.manual_seed(0)
    a, b = models.MLP(), models.MLP()
    split = data.Split(images, subset.test.labels[:200])
    assert permuted.agreement(a, split, a, split) == 1.0
    assert permuted.agreement(a, split, b, split) < 1.0
