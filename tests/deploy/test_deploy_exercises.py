"""The Deployment chapter's exercises work with the package as it is: their recipes, small."""

from __future__ import annotations

import io
import tarfile

import httpx
import numpy as np
import pytest
from PIL import Image

from fmnist_edu.cli import main
from fmnist_edu.deploy import archive, inference, loadtest, payloads, server


def test_exercise_1_package_and_serve_the_mlp(subset_dir, tmp_path, monkeypatch, archive_path):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    args = ["--model", "mlp", "--epochs", "1", "--limit", "100", "--data-dir", str(subset_dir)]
    assert main(["package", *args, "--out", str(tmp_path / "mlp")]) == 0
    mlp_archive = tmp_path / "mlp" / "model.tar.gz"
    assert mlp_archive.stat().st_size < archive_path.stat().st_size  # fewer parameters
    image = np.zeros((28, 28), dtype=np.uint8)
    with server.in_thread(mlp_archive) as url:
        reply = httpx.post(f"{url}/invocations", content=payloads.to_json(image),
                           headers={"Content-Type": inference.JSON}, timeout=10)  # fmt: skip
    assert reply.status_code == 200 and len(reply.json()["predictions"]) == 1


def test_exercise_2_the_largest_batch_in_npy_and_json(handler, subset):
    batch = subset.test.images[:256].numpy()
    npy, json_body = payloads.to_npy(batch), payloads.to_json(batch)
    assert len(json_body) > len(npy)
    for body, content_type in ((npy, inference.NPY), (json_body, inference.JSON)):
        assert handler.input_fn(body, content_type).shape == (256, 1, 28, 28)
    too_many = np.concatenate([batch, batch[:1]])
    with pytest.raises(handler.RequestError) as caught:
        handler.input_fn(payloads.to_npy(too_many), inference.NPY)
    assert caught.value.status_code == 413


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_exercise_3_several_connections(archive_path, backend, images):
    with server.in_thread(archive_path, backend=backend) as url:
        result = loadtest.measure(url, payloads.to_json(images[0]), concurrency=8, requests=40)
    assert result.requests == 40 and result.failures == 0 and result.per_second > 0


def test_exercise_4_pillow_pngs(handler, images, tmp_path):
    image = images[0]
    Image.fromarray(image, mode="L").save(tmp_path / "x.png")
    decoded = handler.input_fn((tmp_path / "x.png").read_bytes(), inference.PNG)
    assert np.array_equal(np.rint(decoded[0, 0] * 255).astype(np.uint8), image)
    Image.fromarray(np.stack([image] * 3, axis=-1), mode="RGB").save(tmp_path / "rgb.png")
    with pytest.raises(handler.RequestError, match="colour type 2"):
        handler.input_fn((tmp_path / "rgb.png").read_bytes(), inference.PNG)


def test_exercise_5_a_traversal_member_is_refused(tmp_path):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(archive.ArchiveError, match="unsafe member"):
        archive.extract(path, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()
