"""``fmnist-edu package`` -> ``fmnist-edu serve`` -> a request, end to end, in child processes."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from deploy.conftest import expected_probabilities
from fmnist_edu import data, experiments
from fmnist_edu.cli import main
from fmnist_edu.deploy import inference, local, payloads
from fmnist_edu.store import ResultStore

OPTIONS = ["--model", "cnn", "--epochs", "1", "--limit", "100", "--seed", "0"]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory, subset_dir):
    """``fmnist-edu package`` run once (training a tiny model into an isolated store)."""
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out")
    old = os.environ.get("FMNIST_EDU_CACHE")
    os.environ["FMNIST_EDU_CACHE"] = str(cache)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = main(["package", *OPTIONS, "--data-dir", str(subset_dir), "--out", str(out)])
        experiment = experiments.Experiment(model="cnn", epochs=1, limit=100, seed=0)
        result = experiments.cached(experiment, data.load(subset_dir), ResultStore())
    finally:
        if old is None:
            del os.environ["FMNIST_EDU_CACHE"]
        else:
            os.environ["FMNIST_EDU_CACHE"] = old
    assert code == 0 and result is not None
    return out / "model.tar.gz", result, printed.getvalue()


def test_package_trains_then_prints_the_listing(packaged):
    path, result, printed = packaged
    lines = printed.splitlines()
    assert lines[0].startswith("training cnn k3 d2 s1 same")  # nothing in the store yet
    wrote = lines.index(f"wrote {path} ({path.stat().st_size:,} bytes):")
    listed = [line.split()[-1] for line in lines[wrote + 1 :]]
    assert listed == [
        "code/inference.py", "code/model.json", "code/requirements.txt", "model.onnx", "model.pth"
    ]  # fmt: skip
    assert f"test accuracy: {result.test.accuracy:.4f}" in printed


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_package_serve_request_end_to_end(packaged, subset, backend):
    path, result, _ = packaged
    images = subset.test.images[:5].numpy()
    expected = expected_probabilities(result.model(), images).argmax(1).tolist()
    with local.endpoint(path, backend=backend, stop_after=120) as server:
        png = server.invoke(payloads.to_png(images[0]), inference.PNG)
        assert png.status_code == 200
        assert png.json()["predictions"][0]["label"] == expected[0]
        bad = server.invoke(b"[1, 2", inference.JSON)
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
        batch = server.invoke(payloads.to_npy(images), inference.NPY)
        assert [p["label"] for p in batch.json()["predictions"]] == expected
        process = server.process
    assert process.returncode == 0  # stopped by SIGINT, as Ctrl-C, and exited cleanly


def _start(args, tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    command = [sys.executable, "-m", "fmnist_edu", "serve", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_server_cleanly(packaged, tmp_path, sig):
    path = packaged[0]
    process = _start([str(path), "--port", "0", "--stop-after", "60"], tmp_path)
    try:
        first = process.stdout.readline()
        assert "on http://127.0.0.1:" in first and "Ctrl-C stops" in first
        assert any(tmp_path.iterdir())  # the unpacked archive
        process.send_signal(sig)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and output.strip().endswith("stopped")
    assert list(tmp_path.iterdir()) == []


def test_serve_stops_after_its_time_limit(packaged, tmp_path):
    path = packaged[0]
    process = _start([str(path), "--port", "0", "--stop-after", "0.5"], tmp_path)
    start = time.perf_counter()
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and "stopped" in output
    assert time.perf_counter() - start < 60


def test_cli_errors_are_one_line(packaged, tmp_path, capsys):
    path = packaged[0]
    traversal = tmp_path / "evil.tar.gz"

    with tarfile.open(traversal, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    cases = [
        (["serve", str(traversal), "--port", "0"], "refused, unsafe member"),
        (["serve", str(tmp_path / "absent.tar.gz")], "no such archive"),
        (["serve", str(path), "--port", "0", "--threads", "0"], "threads=0"),
        (["package", "--permute", "1", "--out", str(tmp_path)], "--permute"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path.parent / "evil.txt").exists()


def test_the_onnx_backend_needs_an_onnx_model(subset_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    args = ["--model", "mlp", "--epochs", "1", "--limit", "50", "--data-dir", str(subset_dir)]
    assert main(["package", *args, "--out", str(tmp_path), "--no-onnx"]) == 0
    assert "model.onnx" not in capsys.readouterr().out
    archive = str(tmp_path / "model.tar.gz")
    assert main(["serve", archive, "--port", "0", "--backend", "onnx"]) == 1
    assert "has no ONNX model" in capsys.readouterr().err


def test_an_endpoint_that_cannot_start_says_why(tmp_path):
    bad = tmp_path / "not-an-archive.tar.gz"
    bad.write_bytes(b"junk")
    with pytest.raises(local.EndpointError, match="exited .*not a readable .tar.gz"):
        with local.endpoint(bad, start_timeout=60):
            pass
