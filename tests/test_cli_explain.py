"""``fmnist-edu explain`` writes an attribution picture; ``--labels`` reaches the experiment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fmnist_edu import cli, interpret
from fmnist_edu.cli import build_parser, main
from fmnist_edu.store import ResultStore

SMALL = ["--epochs", "1", "--limit", "200"]


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))


def test_explain_writes_a_png_and_says_what_it_shows(subset_dir, tmp_path, capsys):
    out = tmp_path / "saliency.png"
    argv = ["explain", "--model", "cnn", "--method", "saliency", "--index", "12",
            "--out", str(out), "--data-dir", str(subset_dir), *SMALL]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("training cnn")  # not in the store yet: trained first
    assert "test image 12 (" in printed and "Saliency explains" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "deeplift.svg"
    argv[argv.index("saliency")] = "deeplift"
    argv[argv.index(str(out))] = str(svg)
    assert main([*argv, "--target", "3"]) == 0
    printed = capsys.readouterr().out
    assert "training" not in printed and "DeepLift explains 'Dress'" in printed  # from the store
    assert b"<svg" in svg.read_bytes()[:500]


def test_the_methods_named_in_the_help_are_the_package_s():
    explain = build_parser()._subparsers._group_actions[0].choices["explain"]
    (action,) = [a for a in explain._actions if a.dest == "method"]
    assert all(name in action.help for name in interpret.METHODS)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "lime"], "method='lime': choose one of saliency"),
        (["--index", "1770"], "--index 1770: the test split holds 1,770 images"),
        (["--target", "10"], "--target 10: choose a class from 0 to 9"),
        (["--out", "map.jpg"], "name a .png or .svg file"),
        (["--out", "/nonexistent/map.png"], "the folder /nonexistent does not exist"),
        (["--model", "mlp", "--method", "grad-cam"], "Grad-CAM needs a convolution layer"),
    ],
)
def test_explain_mistakes_are_one_line_errors_before_any_training(
    subset_dir, tmp_path, capsys, extra, message
):
    argv = ["explain", "--data-dir", str(subset_dir), "--out", str(tmp_path / "x.png"), *SMALL]
    assert main([*argv, *extra]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1
    assert "training" not in captured.out
    root = ResultStore().root
    assert not root.exists() or not list(root.glob("*.json"))  # nothing was trained


def test_train_takes_shuffled_labels(subset_dir, capsys):
    argv = ["train", "--labels", "shuffled", "--data-dir", str(subset_dir), *SMALL]
    assert main(argv) == 0
    assert "cnn k3 d2 s1 same shuffled-labels" in capsys.readouterr().out
    assert main(["train", "--labels", "random"]) == 1
    assert "invalid choice: 'random'" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["read-only folder", "folder in the way"])
def test_an_output_that_cannot_be_written_fails_before_training(
    case, subset_dir, tmp_path, capsys, monkeypatch
):
    if case == "read-only folder":
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):  # root writes anywhere, but not into sysfs
            folder = Path("/sys")
            if not folder.is_dir():
                pytest.skip("this user can write to a read-only folder")
        out = folder / "saliency.png"
    else:
        out = tmp_path / "saliency.png"
        out.mkdir()

    def never(*args):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(cli.options, "stored_or_trained", never)
    argv = ["explain", "--out", str(out), "--data-dir", str(subset_dir), *SMALL]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: cannot be written (") and err.count("\n") == 1
