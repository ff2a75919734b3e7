"""The Deployment chapter's tables and figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmnist_edu import plots, plots_deploy
from fmnist_edu.deploy import archive, export, loadtest, tables


def _rows(markdown: str) -> list[list[str]]:
    lines = markdown.strip().splitlines()
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


def test_tables_show_what_was_measured(tmp_path):
    listing = tables.listing([archive.Member("model.pth", 1_689_549)])
    assert _rows(listing) == [["`model.pth`: the weights (a state_dict)", "1,689,549"]]
    assert _rows(tables.listing([archive.Member("extra.txt", 3)])) == [["`extra.txt`", "3"]]
    path = tmp_path / "m.onnx"
    path.write_bytes(b"x" * 2_000_000)
    checks = {"onnx": export.Parity("onnx", path, 2_000_000, 6e-7, 1769, 1770)}
    assert _rows(tables.parity(checks)) == [["ONNX", "2.00", "6.0e-07", "1,769 of 1,770"]]
    answers = tables.answers(
        [("image/png", 418, 200, [9, 1], [9, 2]), ("text/csv", 9, 500, [], [])]
    )
    assert _rows(answers) == [
        ["`image/png`", "418", "Ankle boot, Trouser (true: Pullover)"],
        ["`text/csv`", "9", "(status 500)"],
    ]
    long = "x | y " * 30
    refused = [("a pipe", "text/plain", 415, 415, long), ("odd", "text/csv", 400, 500, "m")]
    (row, odd) = _rows(tables.refusals(refused))
    assert row[:2] == ["a pipe", "415"] and odd == ["odd", "500 (expected 400)", "m"]
    assert row[2].endswith("…") and "\\|" in row[2]
    assert all(len(r) == 3 for r in _rows(tables.refusals(refused)))  # fits a phone
    one = loadtest.LoadResult(1, (1.0, 2.0, 3.0), 0.5, 0)
    eight = loadtest.LoadResult(8, (4.0, 5.0), 0.25, 0)
    assert _rows(tables.latency({"PyTorch": [one, eight]})) == [
        ["PyTorch", "1", "2.00", "2.98", "6"],
        ["PyTorch", "8", "4.50", "4.99", "8"],
    ]


def test_latency_histogram_is_a_book_figure():
    rng = np.random.default_rng(0)
    latencies = {"PyTorch": rng.lognormal(0, 0.3, 300), "ONNX Runtime": rng.lognormal(-1, 0.5, 300)}
    fig = plots_deploy.latency_histogram(latencies)
    assert fig.get_size_inches()[0] == plots.TEXT_WIDTH and fig.vector
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.patches) == 2 and len(ax.lines) == 2
    medians = sorted(line.get_xdata()[0] for line in ax.lines)
    assert medians == pytest.approx(sorted(np.median(v) for v in latencies.values()))
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize")) if t.get_text()]
    assert min(t.get_fontsize() for t in texts) >= plots.MIN_FONT_PT
    assert fig.render("svg").startswith(b"<?xml")


def test_bins_cover_every_latency_and_ticks_are_round():
    edges = plots_deploy.latency_bins({"a": [0.3, 5.0], "b": [80.0]})
    assert edges[0] < 0.3 and edges[-1] > 80 and np.all(np.diff(edges) > 0)
    assert plots_deploy.nice_ticks(0.3, 80) == [0.5, 1, 2, 5, 10, 20, 50]
    with pytest.raises(ValueError, match="all positive"):
        plots_deploy.latency_bins({"a": [0.0]})


def test_stage_times_restore_torchs_threads(handler, model_dir, images):
    import torch

    from fmnist_edu.deploy import payloads

    before = torch.get_num_threads()
    model = handler.load_model(model_dir, "torch")
    times = loadtest.stage_times(handler, model, payloads.to_json(images[0]),
                                 "application/json", repeats=5, threads=1)  # fmt: skip
    assert set(times) == {"input_fn", "predict_fn", "output_fn", "handler"}
    assert all(t > 0 for t in times.values()) and torch.get_num_threads() == before
    assert times["handler"] >= max(times["input_fn"], times["predict_fn"], times["output_fn"])
    assert Path(model_dir).is_dir()
