"""The chapters' exercises work with the package as it is: their recipes, run small."""

from __future__ import annotations

import numpy as np
import torch

from fmnist_edu import data, formats


def test_dataset_exercise_4_csv_recipe_round_trips(subset, tmp_path):
    folder = tmp_path / "csv_copy"
    folder.mkdir()
    for split, name in data.CSV_FILES.items():
        s = getattr(subset, split)
        s = data.Split(s.images[:300], s.labels[:300])  # small: the recipe, not the size
        table = np.column_stack([s.labels.numpy(), s.images.reshape(len(s), -1).numpy()])
        np.savetxt(folder / name, table, fmt="%d", delimiter=",",
                   header=",".join(formats.CSV_HEADER), comments="")  # fmt: skip
    loaded = data.load(folder)
    assert loaded.layout == "csv"
    assert torch.equal(loaded.train.images, subset.train.images[:300])
    assert torch.equal(loaded.test.labels, subset.test.labels[:300])


def test_architectures_exercise_1_compute_matched_mlp_over_seeds(subset, store):
    from fmnist_edu import comparison, experiments, models, summary
    from fmnist_edu.experiments import Experiment

    def macs(model):
        return sum(r.macs for r in summary.summarize(model))

    matched = Experiment(model="mlp", hidden=(4096, 256))
    assert abs(macs(matched.build()) / macs(models.CNN()) - 1) < 0.01  # as much compute
    small = Experiment(model="mlp", hidden=(4096, 256), epochs=1, limit=300)
    runs = experiments.run_seeds(small, seeds=[0, 1], dataset=subset, store=store)
    assert [r.experiment.seed for r in runs] == [0, 1]
    assert all(r.experiment.hidden == (4096, 256) for r in runs)
    correct = comparison.correctness([r.model() for r in runs], subset.test)
    assert correct.shape == (2, len(subset.test))
    assert correct.float().mean(1).tolist() == [r.test.accuracy for r in runs]
