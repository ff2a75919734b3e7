"""Missing optional dependencies: one line naming the extra, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tomllib

from fmnist_edu import optional
from fmnist_edu.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_require_names_the_extra(monkeypatch):
    for name in ("captum", "captum.attr"):  # even when another test imported it already
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(optional.MissingDependency) as caught:
        optional.require("captum.attr", "attributions")
    assert str(caught.value) == (
        'attributions needs captum, which is not installed: pip install "fmnist-edu[interpret]"'
        " (or [all])"
    )
    assert "requirements.txt" not in str(caught.value)


def test_require_returns_the_module_when_present():
    assert optional.require("json", "anything").dumps([1]) == "[1]"


def test_every_extra_named_exists_in_pyproject():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(optional.EXTRA_OF.values()) <= set(extras)
    everything = " ".join(extras["all"])
    for extra in set(optional.EXTRA_OF.values()) - {"book"}:
        assert extra in everything, f"[all] leaves out [{extra}]"


def test_the_cli_prints_one_line_for_a_missing_extra(monkeypatch, capsys, subset_dir):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    argv = ["grid", "kernel", "--workers", "1", "--epochs", "1", "--data-dir", str(subset_dir)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fmnist-edu[grid]" in err and "Traceback" not in err


def test_serve_without_its_extra_names_it(monkeypatch, capsys, tmp_path):
    import fmnist_edu.deploy

    for name in ("server", "connections"):  # imported afresh, without httptools
        monkeypatch.delitem(sys.modules, f"fmnist_edu.deploy.{name}", raising=False)
        monkeypatch.delattr(fmnist_edu.deploy, name, raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn.protocols.http.httptools_impl", None)
    monkeypatch.setitem(sys.modules, "httptools", None)
    assert main(["serve", str(tmp_path / "model.tar.gz")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fmnist-edu[serve]" in err and "requirements" not in err
