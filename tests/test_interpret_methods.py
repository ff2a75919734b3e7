"""Attribution through Captum: one call for every method, and the guards around it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import DeepLift
from torch import nn

from fmnist_edu import experiments, interpret, models
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment
from fmnist_edu.store import ResultStore
from fmnist_edu.training import to_inputs


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return models.CNN().eval()


@pytest.fixture(scope="module")
def trained(subset, tmp_path_factory) -> nn.Module:
    """A CNN trained briefly: its logits move enough for relative gaps to mean something."""
    store = ResultStore(tmp_path_factory.mktemp("store"))
    experiment = Experiment(epochs=1, limit=600)
    return experiments.run(experiment, subset, store, progress=False).model()


@pytest.fixture(scope="module")
def batch(subset):
    return subset.test.images[:4], subset.test.labels[:4]


class FunctionalReluCNN(nn.Module):
    """A small CNN whose activations are ``F.relu`` calls: the pitfall."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc1 = nn.Linear(4 * 14 * 14, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.conv(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class ModuleReluCNN(FunctionalReluCNN):
    """The same network with one ``nn.ReLU`` module per activation."""

    def __init__(self) -> None:
        super().__init__()
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        x = F.avg_pool2d(self.relu1(self.conv(x)), 2)
        return self.fc2(self.relu2(self.fc1(x.flatten(1))))


class SharedReluCNN(ModuleReluCNN):
    """One ``nn.ReLU`` module applied twice."""

    def forward(self, x):
        x = F.avg_pool2d(self.relu1(self.conv(x)), 2)
        return self.fc2(self.relu1(self.fc1(x.flatten(1))))


@pytest.mark.parametrize("method", list(interpret.METHODS))
def test_every_method_gives_one_finite_map_per_image(cnn, batch, method):
    images, labels = batch
    maps = interpret.attribute(cnn, images, method, labels)
    assert maps.shape == (4, 28, 28) and maps.dtype == torch.float32
    assert bool(maps.isfinite().all()) and bool((maps != 0).any())
    assert not maps.requires_grad
    if not interpret.METHODS[method].signed:
        assert bool((maps >= 0).all())
    again = interpret.attribute(cnn, images, method, labels)
    assert torch.equal(maps, again)  # seeded: the same map every time


def test_saliency_is_the_absolute_gradient_of_the_target_logit(cnn, batch):
    images, labels = batch
    x = to_inputs(images).requires_grad_()
    cnn(x).gather(1, labels[:, None]).sum().backward()
    expected = x.grad.abs().reshape(4, 28, 28)
    torch.testing.assert_close(interpret.attribute(cnn, images, "saliency", labels), expected)


def test_the_default_target_is_the_prediction(cnn, batch):
    images, _ = batch
    with torch.no_grad():
        predicted = cnn(to_inputs(images)).argmax(1)
    assert torch.equal(
        interpret.attribute(cnn, images, "saliency"),
        interpret.attribute(cnn, images, "saliency", predicted),
    )


def test_smoothgrad_noise_follows_the_seed(cnn, batch):
    images, labels = batch
    a = interpret.attribute(cnn, images, "smoothgrad", labels, seed=0)
    b = interpret.attribute(cnn, images, "smoothgrad", labels, seed=1)
    assert not torch.equal(a, b)


def test_integrated_gradients_and_deeplift_are_zero_on_the_background(cnn, batch):
    images, labels = batch
    for method in ("integrated-gradients", "deeplift"):
        maps = interpret.attribute(cnn, images, method, labels)
        assert bool((maps[images == 0] == 0).all()), method


def test_integrated_gradients_converge_to_completeness(trained, batch):
    images, labels = batch
    cnn = trained
    gap = interpret.completeness_gap
    coarse = interpret.attribute(cnn, images, "integrated-gradients", labels, n_steps=2)
    fine = interpret.attribute(cnn, images, "integrated-gradients", labels, n_steps=64)
    assert float(gap(cnn, images, labels, fine).max()) < 0.05
    assert gap(cnn, images, labels, fine).mean() < gap(cnn, images, labels, coarse).mean()


def test_deeplift_adds_up_when_the_layers_are_stored_in_the_order_they_compute(trained, batch):
    """Captum's DeepLift adds up exactly through ReLUs and linear layers, nearly so through
    conv -> ReLU -> max-pool, and not at all when the pool is stored before the ReLU: the
    same function, other attributions. The chapter reports all three."""
    images, labels = batch
    torch.manual_seed(0)
    mlp = models.MLP().eval()
    maps = interpret.attribute(mlp, images, "deeplift", labels)
    assert float(interpret.completeness_gap(mlp, images, labels, maps).max()) < 1e-3
    assert [type(m).__name__ for m in trained.features] == ["Conv2d", "ReLU", "MaxPool2d"] * 2
    maps = interpret.attribute(trained, images, "deeplift", labels)
    right = interpret.completeness_gap(trained, images, labels, maps)
    assert float(right.median()) < 0.02
    twin = interpret.pool_before_relu(trained)
    assert [type(m).__name__ for m in twin.features] == ["Conv2d", "MaxPool2d", "ReLU"] * 2
    assert [type(m).__name__ for m in trained.features][1] == "ReLU"  # the original kept
    inputs = to_inputs(images)
    torch.testing.assert_close(twin(inputs), trained(inputs))  # the same function
    swapped = interpret.attribute(twin, images, "deeplift", labels)
    wrong = interpret.completeness_gap(twin, images, labels, swapped)
    assert float(wrong.median()) > 5 * float(right.median()) and float(wrong.median()) > 0.05


def test_completeness_is_measured_against_the_baseline_used(trained, batch):
    images, labels = batch
    cnn = trained
    grey = interpret.attribute(cnn, images, "integrated-gradients", labels, baselines=0.5,
                               n_steps=64)  # fmt: skip
    gap = interpret.completeness_gap(cnn, images, labels, grey, baseline=0.5)
    assert float(gap.max()) < 0.05
    assert float(interpret.completeness_gap(cnn, images, labels, grey).min()) > float(gap.max())


def test_grad_cam_reads_the_rectified_maps_of_the_last_convolution(cnn, batch):
    images, labels = batch
    assert interpret.last_conv(cnn) is cnn.features.conv2
    assert interpret.gradcam_layer(cnn) is cnn.features.relu2  # the paper's layer, before pooling
    assert interpret.gradcam_side(cnn) == 14
    maps = interpret.attribute(cnn, images, "grad-cam", labels)
    assert maps.shape == (4, 28, 28)
    # By hand: weights = mean gradient of each rectified map, ReLU of the weighted sum.
    inputs = to_inputs(images).requires_grad_(False)
    kept = []
    hook = cnn.features.relu2.register_forward_hook(lambda m, i, out: kept.append(out))
    logits = cnn(inputs)
    hook.remove()
    (grads,) = torch.autograd.grad(logits.gather(1, labels[:, None]).sum(), kept[0])
    cam = F.relu((grads.mean((2, 3), keepdim=True) * kept[0]).sum(1, keepdim=True))
    expected = F.interpolate(cam, size=(28, 28), mode="bilinear").squeeze(1)
    assert torch.allclose(maps, expected.detach(), atol=1e-6)


def test_grad_cam_falls_back_to_a_convolution_no_relu_module_follows():
    bare = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 10)).eval()
    assert interpret.gradcam_layer(bare) is bare[0]


def test_grad_cam_on_the_mlp_is_a_clear_error(batch):
    with pytest.raises(ConfigError, match="Grad-CAM needs a convolution layer.*MLP"):
        interpret.attribute(models.MLP().eval(), batch[0], "grad-cam")


def test_bad_calls_are_config_errors_naming_what_is_wrong(cnn, batch):
    images, labels = batch
    with pytest.raises(ConfigError, match="method='lime'.*saliency"):
        interpret.attribute(cnn, images, "lime")
    with pytest.raises(ConfigError, match="takes the options.*n_steps.*got steps"):
        interpret.attribute(cnn, images, "integrated-gradients", labels, steps=4)
    with pytest.raises(ConfigError, match=r"images: expected uint8 \[B, 28, 28\]"):
        interpret.attribute(cnn, torch.zeros(2, 28, 28), "saliency")
    with pytest.raises(ConfigError, match="target: expected one class in 0..9"):
        interpret.attribute(cnn, images, "saliency", torch.tensor([1, 2, 3, 10]))
    with pytest.raises(ConfigError, match="target: expected one class"):
        interpret.attribute(cnn, images, "saliency", torch.tensor([1, 2]))


def test_one_target_is_used_for_every_image(cnn, batch):
    images, _ = batch
    maps = interpret.attribute(cnn, images, "saliency", 3)
    assert torch.equal(maps, interpret.attribute(cnn, images, "saliency", torch.full((4,), 3)))


def test_attribution_refuses_inference_mode_and_training_mode(cnn, batch):
    images, labels = batch
    with torch.inference_mode(), pytest.raises(ConfigError, match="needs gradients"):
        interpret.attribute(cnn, images, "saliency", labels)
    training = models.CNN().train()
    with pytest.raises(ConfigError, match="training mode.*model.eval"):
        interpret.attribute(training, images, "saliency", labels)
    assert training.training  # refused, not silently switched


def test_inputs_made_under_inference_mode_are_usable(cnn, batch):
    images, labels = batch
    with torch.inference_mode():
        inputs = to_inputs(images)
    maps = interpret.attribute(cnn, inputs, "saliency", labels)
    torch.testing.assert_close(maps, interpret.attribute(cnn, images, "saliency", labels))


def test_relu_modules_check_accepts_the_book_models_and_names_the_pitfalls(batch):
    x = to_inputs(batch[0])
    interpret.check_relu_modules(models.CNN().eval(), x)
    interpret.check_relu_modules(models.MLP().eval(), x)
    interpret.check_relu_modules(ModuleReluCNN().eval(), x)
    with pytest.raises(ConfigError, match="relu1 run more than once"):
        interpret.check_relu_modules(SharedReluCNN().eval(), x)
    with pytest.raises(ConfigError, match="2 ReLU.*applied as functions"):
        interpret.check_relu_modules(FunctionalReluCNN().eval(), x)
    for method in ("deeplift", "guided-backprop"):
        with pytest.raises(ConfigError, match="as functions"):
            interpret.attribute(FunctionalReluCNN().eval(), batch[0], method)
    interpret.attribute(FunctionalReluCNN().eval(), batch[0], "saliency")  # gradients are fine


@pytest.mark.filterwarnings("ignore::UserWarning")  # Captum's notices, called directly
def test_functional_relu_gives_silently_wrong_deeplift_maps(batch):
    """Why the guard exists: Captum accepts F.relu, and completeness breaks."""
    images, labels = batch
    torch.manual_seed(1)
    functional = FunctionalReluCNN().eval()
    modules = ModuleReluCNN().eval()
    modules.load_state_dict(functional.state_dict(), strict=False)
    x = to_inputs(images)
    with torch.no_grad():
        assert torch.allclose(functional(x), modules(x))  # the same function
    right = interpret.attribute(modules, images, "deeplift", labels)
    wrong = DeepLift(functional).attribute(x.clone(), target=labels, baselines=0.0)
    assert float(interpret.completeness_gap(modules, images, labels, right).max()) < 1e-3
    assert float(interpret.completeness_gap(functional, images, labels, wrong).max()) > 0.01
