"""The numbers chapters report: statistics, similarity, pair ranking, seed comparisons."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import analysis
from fmnist_edu.data import Split


def _split(images, labels):
    return Split(torch.tensor(images, dtype=torch.uint8), torch.tensor(labels))


def test_class_means_and_pixel_stats():
    images = torch.zeros(20, 28, 28, dtype=torch.uint8)
    labels = torch.arange(20) % 10
    images[labels == 3] = 255  # class 3 is all white, the rest all black
    split = Split(images, labels)
    means = analysis.class_mean_images(split)
    assert means.shape == (10, 28, 28)
    assert means[3].min() == 1.0 and means[0].max() == 0.0
    stats = analysis.pixel_stats(split)
    assert stats.mean == pytest.approx(0.1)
    assert stats.background_fraction == pytest.approx(0.9)
    assert stats.saturated_fraction == pytest.approx(0.1)
    assert stats.class_mean_intensity[3] == 1.0 and stats.class_mean_intensity[5] == 0.0
    assert stats.class_area[3] == 1.0 and stats.class_area[5] == 0.0


def test_area_and_variability_measure_different_things():
    images = torch.zeros(20, 28, 28, dtype=torch.uint8)
    labels = torch.arange(20) % 10
    images[0, :14] = 10  # class 0: faint ink over half the image, the same in both images
    images[10, :14] = 10
    images[1, :, :2] = 255  # class 1: bright but small, and in different places
    images[11, :, -2:] = 255
    stats = analysis.pixel_stats(Split(images, labels))
    assert stats.class_area[0] > stats.class_area[1]
    assert stats.class_mean_intensity[1] > stats.class_mean_intensity[0]
    assert stats.class_consistency[0] == pytest.approx(1.0), "identical images: a crisp mean"
    assert stats.class_consistency[1] == pytest.approx(0.5), "disjoint images: a smeared mean"


def test_similarity_of_identical_and_disjoint_classes():
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    for c in range(10):
        images[c, c, :] = 200  # class c lights row c only: disjoint supports
    images[1] = images[0]  # ... except class 1, identical to class 0
    sim = analysis.class_similarity(Split(images, torch.arange(10)))
    assert sim[0, 1] == pytest.approx(1.0)
    assert sim[0, 2] == pytest.approx(0.0)
    assert analysis.top_pairs(sim, k=1)[0][1:] == (0, 1)


def test_top_pairs_on_a_confusion_matrix_adds_both_directions():
    confusion = torch.zeros(10, 10)
    confusion[2, 4], confusion[4, 2] = 5, 4  # 9 mix-ups between 2 and 4
    confusion[6, 0] = 8
    confusion[3, 3] = 100  # the diagonal is never a pair
    pairs = analysis.top_pairs(confusion, k=2, add_transpose=True)
    assert pairs == [(9.0, 2, 4), (8.0, 0, 6)]


def test_totals_over_seeds():
    from fmnist_edu.training import Evaluation

    a = Evaluation(0.5, [1.0] * 5 + [0.0] * 5, [[1] * 10] * 10)
    b = Evaluation(0.7, [0.0] * 5 + [1.0] * 5, [[2] * 10] * 10)
    assert analysis.total_confusion([a, b]) == [[3] * 10] * 10
    assert analysis.mean_per_class([a, b]) == [0.5] * 10


def test_mix_up_rates_are_shares_of_both_classes():
    confusion = torch.diag(torch.full((10,), 90.0))
    confusion[2, 4], confusion[4, 2] = 10, 5  # class 2: 100 images, class 4: 95 images
    rates = analysis.mix_up_rates(confusion)
    assert rates[2, 4] == rates[4, 2] == pytest.approx(15 / 195)
    assert rates[0, 1] == 0 and rates.diagonal().sum() == 0
    assert torch.allclose(analysis.mix_up_rates(3 * confusion), rates), "seeds pooled: same"
    assert analysis.top_pairs(rates, k=1)[0][1:] == (2, 4)


def test_mlp_parameters_follow_the_model_and_the_matched_mlp_matches_the_cnn():
    from fmnist_edu import models

    for hidden in [(128, 64), (7,), (300, 100, 30)]:
        assert analysis.mlp_parameters(hidden) == models.count_parameters(models.MLP(hidden))
    target = models.count_parameters(models.CNN())
    hidden = analysis.matched_mlp_hidden(target)
    assert len(hidden) == 2 and abs(hidden[0] - 2 * hidden[1]) <= 1  # the baseline's 2:1 funnel
    assert abs(analysis.mlp_parameters(hidden) / target - 1) < 0.01
    # No other width of the same shape comes closer.
    for first in (hidden[0] - 1, hidden[0] + 1):
        other = (first, round(first / 2))
        assert abs(analysis.mlp_parameters(other) - target) >= abs(
            analysis.mlp_parameters(hidden) - target
        )
    assert analysis.matched_mlp_hidden(analysis.mlp_parameters((128, 64))) == (128, 64)


def test_curve_end_reports_the_last_step_mean_over_seeds():
    from fmnist_edu.training import EpochStats, History

    def history(losses):
        return History([EpochStats(i + 1, v, 0.5, 1 - v, 0.1) for i, v in enumerate(losses)])

    end = analysis.curve_end([history([1.0, 0.6, 0.5]), history([1.0, 0.5, 0.3])], "loss")
    assert end.last == pytest.approx(0.4) and end.change == pytest.approx(-0.15)
    rising = analysis.curve_end([history([0.5, 0.4]), history([0.5, 0.6])], "val_accuracy")
    assert rising.change == pytest.approx(0.0)
    with pytest.raises(ValueError, match="two epochs"):
        analysis.curve_end([history([0.5])], "loss")
