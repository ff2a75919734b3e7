"""The fmnist-edu command: output of each subcommand and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_edu import download
from fmnist_edu.cli import build_parser, main


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))


def test_data_info(subset_dir, capsys):
    assert main(["data", "info", "--data-dir", str(subset_dir)]) == 0
    out = capsys.readouterr().out
    total = out.splitlines()[-1].split()
    assert total == ["total", "3,615", "1,770"]
    assert "Trouser" in out and "     394     176" in out


def test_models_summary_totals(capsys):
    assert main(["models", "summary", "--model", "mlp"]) == 0
    assert "109,386" in capsys.readouterr().out.splitlines()[-1]
    assert main(["models", "summary", "--model", "cnn"]) == 0
    assert "421,642" in capsys.readouterr().out.splitlines()[-1]
    assert main(["models", "summary", "--model", "cnn", "--kernel-size", "5"]) == 0
    assert "454,922" in capsys.readouterr().out.splitlines()[-1]


def test_train_twice_then_evaluate(subset_dir, capsys):
    args = ["--model", "mlp", "--epochs", "1", "--limit", "200", "--data-dir", str(subset_dir)]
    assert main(["train", *args]) == 0
    first = capsys.readouterr().out
    assert main(["train", *args]) == 0
    second = capsys.readouterr().out
    assert "from the results store" in second and "from the results store" not in first
    assert first.splitlines()[-1] == second.splitlines()[-1]
    assert first.splitlines()[-1].startswith("test accuracy: ")
    assert main(["evaluate", *args]) == 0
    assert "Ankle boot" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "info", "--data-dir", "/nonexistent"], "no Fashion-MNIST files here"),
        (
            ["models", "summary", "--kernel-size", "9", "--depth", "3", "--padding", "valid"],
            "block 3 shrinks",
        ),
        (["evaluate", "--model", "cnn", "--epochs", "99"], "has not been trained"),
    ],
)
def test_errors_are_one_line_with_exit_1(argv, message, capsys, subset_dir):
    if argv[0] == "evaluate":
        argv = [*argv, "--data-dir", str(subset_dir)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_python_dash_m_entry_point(subset_dir):
    done = subprocess.run(
        [sys.executable, "-m", "fmnist_edu", "data", "info", "--data-dir", str(subset_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "3,615" in done.stdout


def test_download_hands_the_folder_and_force_to_ensure_release(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_ensure_release(folder, *, force=False, **settings):
        calls.append((folder, force))
        return f"{folder}: checked"

    monkeypatch.setattr(download, "ensure_release", fake_ensure_release, raising=False)
    assert main(["data", "download", "--data-dir", str(tmp_path)]) == 0
    assert main(["data", "download", "--data-dir", str(tmp_path), "--force"]) == 0
    assert calls == [(tmp_path, False), (tmp_path, True)]
    assert capsys.readouterr().out.splitlines() == [f"{tmp_path}: checked"] * 2


def test_every_subcommand_is_one_registered_function():
    parser = build_parser()
    for argv in (["data", "download"], ["data", "info"], ["models", "summary"], ["train"]):
        args = parser.parse_args(argv)
        assert callable(args.func) and args.func.__module__.startswith("fmnist_edu.cli.")
    assert parser.parse_args(["evaluate"]).func is not parser.parse_args(["train"]).func


def test_wider_mlp_and_augmentation_options(subset_dir, capsys):
    assert main(["models", "summary", "--model", "mlp", "--hidden", "512,256"]) == 0
    expected = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert f"{expected:,}" in capsys.readouterr().out.splitlines()[-1]
    args = ["--model", "mlp", "--epochs", "1", "--limit", "200", "--data-dir", str(subset_dir)]
    assert main(["train", *args, "--hidden", "256", "--augment", "shift"]) == 0
    out = capsys.readouterr().out
    assert "mlp 256 +shift" in out and "from the results store" not in out
    assert main(["evaluate", *args, "--hidden", "256", "--augment", "shift"]) == 0
    assert main(["evaluate", *args, "--hidden", "256"]) == 1  # not trained without shifts


def test_an_unwritable_store_fails_before_training(subset_dir, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache-file"
    blocker.write_text("")
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(blocker))
    argv = ["train", "--model", "mlp", "--epochs", "1", "--data-dir", str(subset_dir)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no "training ..." line: nothing was trained
    assert captured.err.startswith("error: results store ") and len(captured.err.splitlines()) == 1
    assert str(blocker) in captured.err and "FMNIST_EDU_CACHE" in captured.err
    assert blocker.read_text() == ""


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "vit"], "invalid choice: 'vit'"),
        (["data"], "required: action"),
        (["train", "--epochs", "1e23"], "argument --epochs: '1e23' is not a whole number"),
        (["train", "--seed", "1e20"], "argument --seed: '1e20' is not a whole number"),
        (["train", "--hidden", "512,x"], "argument --hidden: '512,x' is not a comma-separated"),
        (["train", "--lr", "fast"], "argument --lr: 'fast' is not a number"),
        (["train", "--augment", "flip"], "invalid choice: 'flip'"),
        (["models", "summary", "--kernel-size", "1001"], "kernel_size=1001: must be between"),
        (["models", "summary", "--depth", "1000000"], "depth=1000000: must be between"),
        (["models", "summary", "--hidden", "0"], "hidden=0: must be between"),
        (["train", "--epochs", "100000000000000000000000"], "epochs=1000"),
        (["train", "--seed", "100000000000000000000"], "seed=100000000000000000000: must be"),
        (["train", "--seed", "-1"], "seed=-1: must be between 0"),
        (["train", "--kernel-size", "4"], "'same' padding needs an odd kernel"),
        (["train", "--batch-size", "0"], "batch_size=0"),
        (["train", "--lr", "nan"], "lr=nan"),
        (["train", "--lr", "-1"], "lr=-1"),
        (["train", "--limit", "0"], "limit=0"),
        (["train", "--model", "cnn", "--hidden", "512,256"], "the CNN has one dense layer"),
    ],
)
def test_usage_and_range_errors_are_one_line_with_exit_1(argv, message, capsys, subset_dir):
    if argv[0] == "train":
        argv = [*argv, "--data-dir", str(subset_dir)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "training" not in captured.out


def test_help_exits_with_0(capsys):
    assert main(["train", "--help"]) == 0
    assert "--hidden" in capsys.readouterr().out


def test_benchmark_without_data_is_a_one_line_error(tmp_path):
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [
            sys.executable,
            str(root / "benchmarks" / "bench_training.py"),
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(root)},  # also where the package is not installed
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and "no Fashion-MNIST files" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
