"""The Interpretability chapter's exercises work with the package as it is, run small."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import DeepLift
from torch import nn

from fmnist_edu import experiments, interpret, models
from fmnist_edu.cli import main
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment
from fmnist_edu.training import to_inputs

SMALL = ["--epochs", "1", "--limit", "200"]


def test_exercise_1_explain_from_the_command_line(subset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    for model, method in (("cnn", "grad-cam"), ("cnn", "occlusion"), ("mlp", "saliency")):
        out = tmp_path / f"{model}-{method}.png"
        argv = ["explain", "--model", model, "--method", method, "--index", "12",
                "--out", str(out), "--data-dir", str(subset_dir), *SMALL]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
        assert out.read_bytes()[:4] == b"\x89PNG"


def test_exercise_2_correlation_within_the_garment(subset):
    torch.manual_seed(0)
    images, labels = subset.test.images[:2], subset.test.labels[:2]
    result = interpret.cascading_randomisation(
        models.CNN().eval(), images, labels, ["integrated-gradients"]
    )
    maps = result.maps["integrated-gradients"]
    whole = interpret.rank_correlation(maps[0], maps[-1])
    inside = interpret.rank_correlation(maps[0], maps[-1], within=images > 0)
    assert bool((inside < whole).all())  # the shared zeros of the background inflate it


def test_exercise_3_a_grey_baseline(subset):
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    images, labels = subset.test.images[:4], subset.test.labels[:4]
    maps = interpret.attribute(cnn, images, "integrated-gradients", labels, baselines=0.5)
    gap = interpret.completeness_gap(cnn, images, labels, maps, baseline=0.5)
    assert gap.shape == (4,)
    _, areas = interpret.deletion_areas(cnn, images, labels, {"integrated-gradients": maps})
    assert areas["integrated-gradients"].shape == (4,)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Captum's notices, called directly
def test_exercise_4_the_functional_relu_pitfall(subset):
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 28 * 28, 10)

        def forward(self, x):
            return self.fc(F.relu(self.conv(x)).flatten(1))

    class Modules(Functional):
        def __init__(self) -> None:
            super().__init__()
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.fc(self.relu(self.conv(x)).flatten(1))

    torch.manual_seed(0)
    functional = Functional().eval()
    modules = Modules().eval()
    modules.load_state_dict(functional.state_dict())
    images, labels = subset.test.images[:4], subset.test.labels[:4]
    with pytest.raises(ConfigError, match="applied as functions"):
        interpret.attribute(functional, images, "deeplift", labels)
    wrong = DeepLift(functional).attribute(to_inputs(images), target=labels, baselines=0.0)
    right = interpret.attribute(modules, images, "deeplift", labels)
    wrong_gap = interpret.completeness_gap(functional, images, labels, wrong)
    assert wrong_gap.mean() > interpret.completeness_gap(modules, images, labels, right).mean()


def test_exercise_5_the_mlp_on_shuffled_labels(subset, store):
    trained = experiments.run(Experiment(model="mlp", epochs=1, limit=300), subset, store,
                              progress=False).model()  # fmt: skip
    shuffled = experiments.run(
        Experiment(model="mlp", epochs=1, limit=300, labels="shuffled"), subset, store,
        progress=False,
    ).model()  # fmt: skip
    images, labels = subset.test.images[:4], subset.test.labels[:4]
    reference = {"saliency": interpret.attribute(trained, images, "saliency", labels)}
    similarity = interpret.map_similarity(reference, shuffled, images, labels)
    assert similarity["saliency"].shape == (4,)
    assert bool((similarity["saliency"] < 1).all())


def test_exercise_6_the_pool_first_twin(subset):
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    twin = interpret.pool_before_relu(cnn)
    images, labels = subset.test.images[:4], subset.test.labels[:4]
    torch.testing.assert_close(twin(to_inputs(images)), cnn(to_inputs(images)))
    ig = [interpret.attribute(m, images, "integrated-gradients", labels) for m in (cnn, twin)]
    torch.testing.assert_close(ig[0], ig[1])  # gradients of the same function: the same map
    dl = [interpret.attribute(m, images, "deeplift", labels) for m in (cnn, twin)]
    gaps = [
        interpret.completeness_gap(m, images, labels, d)
        for m, d in zip((cnn, twin), dl, strict=True)
    ]
    assert not torch.allclose(dl[0], dl[1])
    assert float(gaps[1].median()) > float(gaps[0].median())


def test_exercise_7_deletion_among_the_garments_pixels(subset):
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    images, labels = subset.test.images[:4], subset.test.labels[:4]
    maps = interpret.attribute_all(cnn, images, ["saliency", "deeplift"], labels)
    _, whole = interpret.deletion_areas(cnn, images, labels, maps)
    _, garment = interpret.deletion_areas(cnn, images, labels, maps, within=images > 0)
    assert set(garment) == {"saliency", "deeplift", interpret.RANDOM}
    assert garment["saliency"].shape == (4,)
    assert not torch.allclose(whole["saliency"], garment["saliency"])
