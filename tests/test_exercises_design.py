"""The Design choices chapter's exercises work with the package as it is: their recipes, small."""

from __future__ import annotations

import csv

import torch

from fmnist_edu import design, grid, models, summary
from fmnist_edu.cli import main
from fmnist_edu.experiments import Experiment
from fmnist_edu.store import ResultStore


def test_exercise_1_a_section_with_other_seeds_to_csv(subset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "padding.csv"
    argv = ["grid", "padding", "--seeds", "5", "6", "--epochs", "1", "--limit", "120",
            "--csv", str(out), "--data-dir", str(subset_dir)]  # fmt: skip
    assert main(argv) == 0
    assert "2 designs x 2 seeds" in capsys.readouterr().out
    with open(out, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["design"] for r in rows] == ["same", "valid"] and rows[1]["seeds"] == "2"


def test_exercise_2_an_architecture_as_data():
    custom = models.CNN(
        blocks=[
            models.Block((models.Conv(32, 3), models.Conv(32, 3))),
            models.Block((models.Conv(64, 5, padding=2),)),
        ]
    )
    two = Experiment(convs_per_block=2).build()
    mine = {r.name: r.parameters for r in summary.summarize(custom)}
    theirs = {r.name: r.parameters for r in summary.summarize(two)}
    assert mine["features.conv2"] == 5 * 5 * 32 * 64 + 64  # one 5 x 5 in block 2
    assert theirs["features.conv2_1"] + theirs["features.conv2_2"] == (
        3 * 3 * 32 * 64 + 64 + 3 * 3 * 64 * 64 + 64
    )
    assert sum(theirs.values()) - sum(mine.values()) == (
        theirs["features.conv2_1"] + theirs["features.conv2_2"] - mine["features.conv2"]
    )
    assert custom(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_exercise_3_receptive_field_of_stacked_5x5():
    rows = {
        r.name: r for r in summary.summarize(Experiment(kernel_size=5, convs_per_block=2).build())
    }
    # 5; 5 + 4 = 9; pool: 9 + 1 = 10, jump 2; 10 + 4 * 2 = 18; 18 + 8 = 26; pool: 26 + 2 = 28.
    names = ("conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2")
    assert [rows[f"features.{n}"].receptive_field for n in names] == [5, 9, 10, 18, 26, 28]


def test_exercise_4_a_local_cluster_reproduces_this_process(subset, tmp_path):
    runs = design.Plan((0,), epochs=1, limit=100).runs(Experiment(depth=1))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = grid.run_grid(runs, subset, ResultStore(tmp_path / "here"), progress=False)
    finally:
        torch.set_num_threads(previous)
    there = grid.run_grid(
        runs, subset, ResultStore(tmp_path / "there"), workers=2, threads=1, progress=False
    )
    for a, b in zip(here, there, strict=True):
        assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
