"""The convolution-arithmetic table (fmnist_edu.web.arithmetic) and summary's field windows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from fmnist_edu import models, summary
from fmnist_edu.errors import ConfigError
from fmnist_edu.web import arithmetic
from fmnist_edu.web.assets import AssetContext

ROOT = Path(__file__).resolve().parent.parent


def _ones(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        nn.init.ones_(p)
    return model


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [(3, 1, 1, 1), (5, 2, 0, 1), (3, 1, 2, 2), (2, 3, 1, 3)],
)
def test_unit_window_is_where_the_gradient_reaches(kernel, stride, padding, dilation):
    # Positive weights and average pools: a unit's gradient is non-zero exactly on the
    # input pixels it reads. They lie in its window; where the window is not clipped by
    # the image, its ends are pixels read (a dilated kernel's holes lie inside).
    model = _ones(nn.Sequential(
        nn.Conv2d(1, 1, kernel, stride, padding, dilation), nn.AvgPool2d(2),
        nn.Conv2d(1, 1, kernel, stride, padding, dilation)))  # fmt: skip
    rows = summary.summarize(model, side=28)
    last = rows[-1]
    for unit in sorted({0, last.output_shape[-1] // 2, last.output_shape[-1] - 1}):
        x = torch.rand(1, 1, 28, 28, requires_grad=True)
        model(x)[0, 0, unit, 0].backward()
        reached = x.grad[0, 0].abs().sum(1).nonzero().flatten()
        first, lastrow = summary.unit_window(last, unit)
        assert first <= int(reached.min()) and int(reached.max()) <= lastrow
        unclipped = last.field_start + unit * last.jump
        if unclipped >= 0 and unclipped + last.field_extent <= 28:
            assert (first, lastrow) == (int(reached.min()), int(reached.max()))
            assert lastrow - first + 1 == last.field_extent


def test_a_unit_whose_field_is_all_padding_sees_no_pixel():
    # 1 x 1 kernels with padding 3: pool2's corner unit reads only padding, so no pixel
    # reaches it (zero gradient) and its window is None, not an impossible range.
    model = _ones(nn.Sequential(nn.Conv2d(1, 1, 1, 1, 3), nn.AvgPool2d(2),
                                nn.Conv2d(1, 1, 1, 1, 3), nn.AvgPool2d(2)))  # fmt: skip
    last = summary.summarize(model, side=28)[-1]
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    model(x)[0, 0, 0, 0].backward()
    assert not x.grad.any()
    assert summary.unit_window(last, 0) is None
    middle = last.output_shape[-1] // 2
    assert summary.unit_window(last, middle) is not None
    windows = dict(arithmetic.row("blocks", 28, 1, 1, 3, 1)["windows"])
    assert windows[0] is None and windows[middle] == list(summary.unit_window(last, middle))


def test_unit_window_refuses_a_unit_outside_the_layer():
    row = summary.summarize(models.CNN())[0]
    with pytest.raises(ValueError, match="index=28"):
        summary.unit_window(row, 28)


def test_the_books_blocks_match_the_books_cnn():
    row = arithmetic.row("blocks", 28, kernel=3, stride=1, padding=1, dilation=1)
    cnn = {r.name.rsplit(".", 1)[-1]: r for r in summary.summarize(models.CNN())}
    assert [layer["name"] for layer in row["layers"]] == ["conv1", "pool1", "conv2", "pool2"]
    for layer in row["layers"]:
        want = cnn[layer["name"]]
        assert layer["side"] == want.output_shape[-1]
        assert layer["field"] == want.receptive_field
        assert (layer["start"], layer["jump"]) == (want.field_start, want.jump)
    assert row["fails_at"] is None


def test_a_conv_row_gives_the_formulas_side():
    for r in arithmetic.table():
        if r["kind"] == "conv" and r["layers"]:
            n, k, s, p, d = (r[key] for key in ("side", "kernel", "stride", "padding", "dilation"))
            assert r["layers"][0]["side"] == (n + 2 * p - d * (k - 1) - 1) // s + 1


def test_a_setting_that_leaves_no_output_names_its_layer():
    row = arithmetic.row("blocks", 28, kernel=7, stride=2, padding=0, dilation=2)
    assert row["fails_at"] == "conv2"  # conv1: 28 -> 8, pool1 -> 4, conv2's 13-wide kernel
    assert [layer["name"] for layer in row["layers"]] == ["conv1", "pool1"]
    assert row["layers"][-1]["side"] == 4


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ConfigError, match="dilation=0"):
        arithmetic.layers("conv", 3, 1, 0, 0)
    with pytest.raises(ConfigError, match="kind='pool'"):
        arithmetic.layers("pool", 3, 1, 0, 1)


def _context(tmp_path: Path) -> AssetContext:
    folder = tmp_path / "_static" / "fmnist" / "assets"
    folder.mkdir(parents=True)
    return AssetContext(tmp_path, folder, None, None, None, {}, {}, [], None, "test")


def test_the_writer_puts_the_table_in_the_site(tmp_path):
    ctx = _context(tmp_path)
    entry = arithmetic.write(ctx)
    path = ctx.folder / arithmetic.ASSET
    table = json.loads(path.read_text())
    assert entry["file"] == arithmetic.ASSET and entry["settings"] == len(arithmetic.table())
    assert ctx.written[arithmetic.ASSET] == path.stat().st_size
    assert table["rows"] == arithmetic.table() and "d(k - 1)" in table["formula"]
    assert {r["kind"] for r in table["rows"]} == set(arithmetic.KINDS)
    failing = [r["fails_at"] is not None for r in table["rows"]]
    assert any(failing) and not all(failing)
    if shutil.which("node"):  # the build checks the JavaScript against the table
        assert f"{len(table['rows'])} settings, 0 mismatches" in entry["javascript"]


def test_without_node_the_javascript_is_not_checked(tmp_path):
    ctx = _context(tmp_path)
    arithmetic.write(ctx)
    note = arithmetic.check_javascript(tmp_path, tmp_path / "absent.mjs")
    assert note.startswith("not checked")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
def test_javascript_that_disagrees_fails_the_build(tmp_path):
    ctx = _context(tmp_path)
    arithmetic.write(ctx)
    broken = tmp_path / "src"
    shutil.copytree(ROOT / "book/_static/fmnist", broken)
    source = (broken / "arithmetic.mjs").read_text()
    wrong = "extent += (k - 1) * jump;"  # forgets the dilation
    (broken / "arithmetic.mjs").write_text(source.replace("extent += d * (k - 1) * jump;", wrong))
    with pytest.raises(arithmetic.ArithmeticMismatch, match=r"arithmetic\.mjs: differs .* d=2"):
        arithmetic.check_javascript(tmp_path, broken / "arithmetic.mjs")
