"""Reliability of ``serve``: damaged archives, foreign handler code, bodies over the limit,
slow clients and pixel values scaled to 0-1 (issue 16, items 4, 5, 7 and 8)."""

from __future__ import annotations

import json
import os
import socket
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from fmnist_edu.cli import main
from fmnist_edu.deploy import archive, inference, local, payloads, server

MARKER = "FMNIST_EDU_TEST_MARKER"


class _Smuggled:
    """Unpickling this would create the file named in ``$FMNIST_EDU_TEST_MARKER``."""

    def __reduce__(self):
        return (os.system, (f'touch "${MARKER}"',))


def _rebuilt(archive_path: Path, tmp_path: Path, name: str, payload: bytes) -> Path:
    """A copy of the archive with member ``name`` replaced by ``payload``."""
    unpacked = archive.extract(archive_path, tmp_path / "unpacked")
    (unpacked / name).write_bytes(payload)
    out = tmp_path / "damaged.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(unpacked.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(unpacked).as_posix())
    return out


def _spec(model_dir_json: str, change) -> bytes:
    spec = json.loads(model_dir_json)
    change(spec)
    return json.dumps(spec).encode()


def _drop_in(spec):
    del spec["network"]["layers"][0]["layers"][0]["in"]


def _text_out(spec):
    spec["network"]["layers"][0]["layers"][0]["out"] = "thirty-two"


def _list_network(spec):
    spec["network"] = [1, 2, 3]


def _pickled(tmp_path: Path) -> bytes:
    path = tmp_path / "smuggled.pth"
    torch.save({"features.conv1.weight": _Smuggled()}, path)
    return path.read_bytes()


def _damaged_cases(model_dir: Path, tmp_path: Path):
    text = (model_dir / "code" / "model.json").read_text()
    return {
        "missing-key": ("code/model.json", _spec(text, _drop_in), "lacks the key 'in'"),
        "wrong-type": ("code/model.json", _spec(text, _text_out), "has a wrong value"),
        "network-a-list": ("code/model.json", _spec(text, _list_network), "must be {"),
        "json-a-list": ("code/model.json", b"[1, 2]", "must be an object"),
        "not-json": ("code/model.json", b"{", "not valid JSON"),
        "garbage-weights": ("model.pth", np.random.default_rng(0).bytes(5000), "not a PyTorch"),
        "text-weights": ("model.pth", b"hello world" * 100, "not a PyTorch"),
        "empty-weights": ("model.pth", b"", "not a PyTorch"),
        "pickled-weights": (
            "model.pth",
            _pickled(tmp_path),
            "refused, it holds a pickled call of posix.system",
        ),
        "other-weights": (
            "model.pth",
            (lambda p: (torch.save({"x": torch.zeros(3)}, p), p.read_bytes())[1])(tmp_path / "o"),
            "does not fit code/model.json",
        ),
    }


CASES = [
    "missing-key", "wrong-type", "network-a-list", "json-a-list", "not-json",
    "garbage-weights", "text-weights", "empty-weights", "pickled-weights", "other-weights",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_damaged_archive_is_one_line_naming_its_member(
    case, archive_path, model_dir, tmp_path, capsys, monkeypatch
):
    marker = tmp_path / "code-ran"
    monkeypatch.setenv(MARKER, str(marker))
    member, payload, said = _damaged_cases(model_dir, tmp_path)[case]
    damaged = _rebuilt(archive_path, tmp_path, member, payload)
    assert main(["serve", str(damaged), "--port", "0", "--stop-after", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {damaged}: cannot load the torch model: {member}: "), err
    assert said in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not marker.exists()  # the pickled weights' code never ran


def test_a_damaged_onnx_model_is_one_line(archive_path, tmp_path, capsys):
    damaged = _rebuilt(archive_path, tmp_path, "model.onnx", b"not a protobuf")
    assert main(["serve", str(damaged), "--port", "0", "--backend", "onnx"]) == 1
    err = capsys.readouterr().err
    assert "cannot load the onnx model: model.onnx: ONNX Runtime cannot load it" in err
    assert err.count("\n") == 1, err


def test_foreign_handler_code_runs_only_with_trust_code(
    archive_path, model_dir, tmp_path, capsys, monkeypatch
):
    marker = tmp_path / "code-ran"
    monkeypatch.setenv(MARKER, str(marker))
    code = (model_dir / "code" / "inference.py").read_bytes()
    added = f"\nimport os\nopen(os.environ[{MARKER!r}], 'w').close()\n".encode()
    foreign = _rebuilt(archive_path, tmp_path, "code/inference.py", code + added)
    assert main(["serve", str(foreign), "--port", "0", "--stop-after", "5"]) == 1
    err = capsys.readouterr().err
    assert "code/inference.py differs from this fmnist-edu's handler" in err
    assert "--trust-code" in err and err.count("\n") == 1
    assert not marker.exists()  # refused before any of its code ran
    lines: list[str] = []
    server.serve(foreign, port=0, stop_after=0.3, announce=lines.append, trust_code=True)
    assert marker.exists() and len(lines) == 1  # trusted: imported, and served


def test_serve_says_it_runs_the_archives_code(capsys):
    assert main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "runs the archive's own code/inference.py" in text and "--trust-code" in text


@pytest.fixture(scope="module")
def quick_url(archive_path):
    """A server whose requests must arrive within half a second."""
    with server.in_thread(archive_path, request_timeout=0.5) as url:
        yield url


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def test_a_plain_urllib_post_of_50_mb_reads_the_413(quick_url, images):
    request = urllib.request.Request(
        f"{quick_url}/invocations", data=b" " * 50_000_000,
        headers={"Content-Type": inference.JSON},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 413 and "limit" in json.loads(caught.value.read())["error"]
    good = urllib.request.Request(
        f"{quick_url}/invocations", data=payloads.to_json(images[0]),
        headers={"Content-Type": inference.JSON},
    )  # fmt: skip
    with urllib.request.urlopen(good, timeout=10) as reply:
        assert reply.status == 200


def _read_until_closed(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(seconds)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_client_expecting_100_continue_gets_the_413_without_sending(quick_url):
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Expect: 100-continue\r\nContent-Length: 50000000\r\n\r\n"
    )
    with socket.create_connection(_address(quick_url), timeout=5) as sock:
        sock.sendall(head.encode())
        answer = _read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n[[1, 2",
    ],
    ids=["nothing", "half-the-headers", "half-the-body"],
)
def test_a_request_that_does_not_arrive_in_time_gets_408_and_is_closed(quick_url, sent, images):
    start = time.perf_counter()
    with socket.create_connection(_address(quick_url), timeout=5) as sock:
        sock.sendall(sent)
        answer = _read_until_closed(sock, 5)  # socket.timeout (a failure) if never closed
    assert answer.startswith(b"HTTP/1.1 408") and time.perf_counter() - start < 4
    request = urllib.request.Request(
        f"{quick_url}/invocations", data=payloads.to_json(images[0]),
        headers={"Content-Type": inference.JSON},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200  # the server goes on


def test_a_slow_but_steady_client_is_cut_off_too(quick_url):
    with socket.create_connection(_address(quick_url), timeout=5) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
        start = time.perf_counter()
        with pytest.raises(OSError):  # reset or broken pipe once the server closed
            for _ in range(40):  # a header line every 0.1 s: 4 s at most
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.1)
    assert time.perf_counter() - start < 3


def test_pixels_scaled_to_0_1_are_refused_with_a_hint(handler, images):
    scaled = payloads.to_json(images[0] / 255)
    with pytest.raises(handler.RequestError, match="multiply them by 255") as caught:
        handler.input_fn(scaled, inference.JSON)
    assert caught.value.status_code == 400
    for fine in (np.zeros((28, 28)), np.eye(28), images[0].astype(np.float32)):
        assert handler.input_fn(payloads.to_json(fine), inference.JSON).shape == (1, 1, 28, 28)


def test_urllib_status_reads_the_status_or_says_why_not(quick_url):
    assert local.urllib_status(quick_url, b"[1", inference.JSON) == 400
    assert local.urllib_status(quick_url, b" " * 30_000_000, inference.JSON) == 413
    sock = server.bind("127.0.0.1", 0)
    address = server.url_of(sock)
    sock.close()  # nobody listens there now
    with pytest.raises(local.EndpointError, match="no answer to a 2-byte body"):
        local.urllib_status(address, b"[1", inference.JSON)
