"""The Inductive bias chapter's exercises work with the package as it is: each recipe, small."""

from __future__ import annotations

import torch

from fmnist_edu import equivariance, experiments, features, inductive, models, training, transforms
from fmnist_edu.data import Split
from fmnist_edu.experiments import Experiment


def test_exercise_1_first_layer_parameter_counts():
    counts = inductive.layer_parameters(1, 32, 28, 3)
    assert counts.convolution == models.count_parameters(models.CNN().features.conv1) == 320
    assert counts.locally_connected // counts.convolution == 28 * 28
    second = inductive.layer_parameters(32, 64, 14, 3)
    assert second.locally_connected // second.convolution == 14 * 14


def test_exercise_2_untying_one_position_breaks_sharing_there_only(subset):
    conv = models.CNN().features.conv1
    tied = inductive.LocallyConnected2d.from_conv(conv, side=28)
    tied.weight.data[14 * 28 + 14] += 0.5  # the centre pixel's own kernel
    x = training.to_inputs(subset.test.images[:2])
    with torch.no_grad():
        differs = (tied(x) - conv(x)).abs().amax((0, 1)) > 1e-5  # [28, 28]
    assert differs.nonzero().tolist() == [[14, 14]]


def test_exercise_3_strided_convolutions_are_equivariant_to_even_shifts_only():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3, stride=2, padding=1)
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 6:22, 6:22] = torch.rand(2, 1, 16, 16)  # background around the object
    with torch.no_grad():
        even = conv(transforms.shift(x, 0, 2)) - transforms.shift(conv(x), 0, 1)
        odd = conv(transforms.shift(x, 0, 1))
        inside = (slice(None), slice(None), slice(1, -1), slice(2, -1))
        assert float(even[inside].abs().max()) < 1e-6
        assert float((odd - conv(x))[inside].abs().max()) > 0.1
        assert float((odd - transforms.shift(conv(x), 0, 1))[inside].abs().max()) > 0.1


def test_exercise_4_a_custom_augmentation_and_shifted_predictions(subset):
    small = Split(subset.train.images[:256], subset.train.labels[:256])
    mlp = models.MLP()
    training.train(mlp, small, epochs=1, progress=False,
                   augment=lambda images, g: transforms.random_shift(images, 4, g))  # fmt: skip
    test = Split(subset.test.images[:100], subset.test.labels[:100])
    predictions = equivariance.shift_predictions([mlp], test, [(0, 4), (0, -4), (4, 0), (-4, 0)])
    assert predictions.shape == (4, 1, 100)


def test_exercise_5_fixed_epochs_on_a_small_training_set(subset, store):
    runs = experiments.run_seeds(
        Experiment(model="mlp", limit=250, epochs=1), seeds=[0], dataset=subset, store=store
    )
    assert runs[0].train_images == 250 and runs[0].experiment.epochs == 1


def test_exercise_6_what_the_dense_head_reads_changes_under_a_one_pixel_move(subset):
    torch.manual_seed(0)
    cnn = models.CNN()
    image = subset.test.images[:1]
    before = features.capture(cnn, image, ["features.pool2"])["features.pool2"]
    after = features.capture(cnn, transforms.shift(image, 0, 1), ["features.pool2"])
    changed = (after["features.pool2"] != before).float().mean()
    assert before.shape == (1, 64, 7, 7) and 0 < float(changed) <= 1
