"""The fmnist-edu command: output of each subcommand and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fmnist_edu.cli import main


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


def test_download_skips_a_folder_that_holds_data(subset_dir, capsys):
    assert main(["data", "download", "--data-dir", str(subset_dir)]) == 0
    assert "already holds a copy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [(["train", "--model", "vit"], "invalid choice: 'vit'"), (["data"], "required: action")],
)
def test_usage_errors_are_one_line_with_exit_1(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
