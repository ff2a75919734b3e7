"""The wheel installs whole: built here, installed into a fresh venv outside the checkout.

A lecturer installs ``fmnist-edu[all]`` from the wheel and hands it to a class. This test
does the same: it builds the wheel, installs it with every extra into a new virtual
environment in a temporary folder (pinned as requirements.txt pins the book's), and from
a folder outside the checkout runs every subcommand's ``--help``, one small real command
per extra, and a coursework session with a batch-norm CNN of the test's own.

It takes a few minutes (pip copies torch from the local wheel cache): it is one test
module, run once by ``make test``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ["data", "models", "train", "evaluate", "grid", "package", "serve", "explain"]


def _constraints(folder: Path) -> Path:
    """requirements.txt's pins, without the editable install of the checkout."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if "==" in line and not line.startswith("#")]
    path = folder / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory, subset_dir) -> dict:
    """A fresh venv holding the wheel with [all]; its bin folder and a clean environment."""
    base = tmp_path_factory.mktemp("wheel")
    source, dist = base / "source", base / "dist"  # built from a copy: the checkout stays clean
    skip = (".git", ".venv", "_build", "build", "data", "node_modules", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skip))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(source)],
        check=True, cwd=base,
    )  # fmt: skip
    (wheel,) = dist.glob("fmnist_edu-*.whl")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    # Without PYTHONPATH: a checkout on it would look to pip like fmnist-edu already installed.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "-c",
         str(_constraints(base)), f"{wheel}[all]"],
        check=True, cwd=base, env=env,
    )  # fmt: skip
    work = base / "work"  # outside the checkout: no pyproject.toml above it
    work.mkdir()
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "FMNIST_EDU_DATA": str(subset_dir),
        "FMNIST_EDU_CACHE": str(base / "store"),
        "FMNIST_EDU_PROFILE": "quick",
        "HOME": str(base / "home"),
    }
    return {"bin": bin_dir, "env": env, "cwd": work}


def _run(installed: dict, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        list(argv), cwd=installed["cwd"], env=installed["env"], capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    done = _run(installed, "python", "-c", "import fmnist_edu; print(fmnist_edu.__file__)")
    assert str(ROOT) not in done.stdout and "site-packages" in done.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(installed, command):
    done = _run(installed, "fmnist-edu", command, "--help")
    assert "usage: fmnist-edu" in done.stdout


def test_data_dir_help_names_the_real_default_outside_a_checkout(installed):
    done = _run(installed, "fmnist-edu", "data", "info", "--help")
    assert "home" in done.stdout.replace("\n", " ") or ".cache" in done.stdout


def test_one_small_command_per_extra(installed):
    fmnist = ("fmnist-edu",)
    small = ("--epochs", "1", "--limit", "300")
    assert "test" in _run(installed, *fmnist, "data", "info").stdout  # core
    _run(installed, *fmnist, "models", "summary", "--model", "cnn")
    _run(installed, *fmnist, "train", "--model", "mlp", *small)
    out = installed["cwd"] / "map.png"  # [interpret] and [plots]
    _run(installed, *fmnist, "explain", "--model", "mlp", *small, "--method", "saliency",
         "--index", "0", "--out", str(out))  # fmt: skip
    assert out.stat().st_size > 1000
    _run(installed, *fmnist, "grid", "depth", "--workers", "1", "--seeds", "0", *small)  # [grid]
    _run(installed, *fmnist, "package", "--model", "mlp", *small, "--out", "deploy")  # [serve]
    assert (installed["cwd"] / "deploy" / "model.tar.gz").is_file()
    script = "from fmnist_edu.beyond import tabular; print(tabular.load_table('wine').name)"
    _run(installed, "python", "-c", script)  # [beyond]


COURSEWORK = textwrap.dedent(
    """
    import json

    import torch
    from torch import nn

    from fmnist_edu import comparison, data, experiments, grid, interpret, models, summary
    from fmnist_edu.experiments import Experiment


    def bn_cnn() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


    if __name__ == "__main__":
        models.register("bn_cnn", bn_cnn)
        dataset = data.load()
        mine = Experiment(model="bn_cnn", epochs=1, limit=600)
        first = experiments.run_seeds(mine, seeds=[0, 1], dataset=dataset, progress=False)
        again = experiments.run_seeds(mine, seeds=[0, 1], dataset=dataset, progress=False)
        assert not any(r.from_store for r in first) and all(r.from_store for r in again)
        book = experiments.run_seeds(Experiment(model="cnn", epochs=1, limit=600),
                                     seeds=[0, 1], dataset=dataset, progress=False)
        c = comparison.compare(comparison.correctness([r.model() for r in again], dataset.test),
                               comparison.correctness([r.model() for r in book], dataset.test))
        assert c.low <= c.difference <= c.high
        plan = [Experiment(model="bn_cnn", epochs=1, limit=600, seed=s) for s in (2, 3)]
        done = grid.run_grid(plan, dataset, workers=2, progress=False)
        assert [r.experiment.seed for r in done] == [2, 3]
        assert all(experiments.run(e, dataset).from_store for e in plan)
        maps = interpret.attribute(again[0].model(), dataset.test.images[:2], "saliency")
        assert maps.shape == (2, 28, 28)
        assert summary.summarize(bn_cnn())[-1].output_shape == (10,)
        from fmnist_edu.deploy import archive, local

        path = archive.package(again[0].model(), "deploy-mine", archive.about(again[0]))
        with local.endpoint(path) as server:
            assert server.ping().status_code == 200
            body = json.dumps(dataset.test.images[:3].tolist()).encode()
            answer = server.invoke(body, "application/json").json()["predictions"]
        with torch.no_grad():
            expected = again[0].model()(dataset.test.images[:3].float().div(255).unsqueeze(1))
        assert [p["label"] for p in answer] == expected.argmax(1).tolist()
        print("coursework ok", round(c.difference, 4))
    """
)


def test_a_students_batch_norm_cnn_goes_the_whole_way(installed):
    script = installed["cwd"] / "coursework.py"
    script.write_text(COURSEWORK)
    done = _run(installed, "python", str(script))
    assert "coursework ok" in done.stdout
