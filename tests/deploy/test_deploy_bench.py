"""benchmarks/bench_serve.py runs, bounded, and reports one row per backend and concurrency."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serve.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_serve", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_serve_small(archive_path, subset_dir, capsys):
    argv = ["--archive", str(archive_path), "--requests", "12", "--seconds", "5"]
    assert _bench().main([*argv, "--data-dir", str(subset_dir)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [
        (b, c) for b in ("torch", "onnx") for c in ("1", "8", "32")
    ]
    assert all(r[2] == "12" and r[6] == "0" for r in rows)  # every request answered, 200
    assert all(float(r[7]) >= 0 for r in rows)  # CPU per request (10 ms ticks: may read 0)


def test_bench_serve_without_an_archive_is_a_one_line_error(tmp_path, subset_dir, capsys):
    argv = ["--archive", str(tmp_path / "absent.tar.gz"), "--data-dir", str(subset_dir)]
    assert _bench().main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such archive" in err
