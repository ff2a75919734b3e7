"""Model archives: the layout SageMaker expects, and unsafe or broken archives refused."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import torch

from fmnist_edu import models
from fmnist_edu.deploy import archive, inference


def test_the_archive_has_sagemakers_pytorch_layout(archive_path, model_dir, cnn):
    names = [m.name for m in archive.listing(archive_path)]
    assert sorted(names) == [
        "code/inference.py", "code/model.json", "code/requirements.txt", "model.onnx", "model.pth"
    ]  # fmt: skip
    assert (model_dir / "code/inference.py").read_bytes() == Path(inference.__file__).read_bytes()
    spec = json.loads((model_dir / "code/model.json").read_text())
    assert spec["network"] == archive.network_spec(cnn)
    assert spec["classes"][9] == "Ankle boot" and spec["about"] == {"test": True}
    state = torch.load(model_dir / "model.pth", weights_only=True)
    assert state.keys() == cnn.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in cnn.state_dict().items())


def test_without_onnx_and_with_an_mlp(tmp_path):
    path = archive.package(models.MLP(), tmp_path / "new" / "folder", onnx=False)
    assert "model.onnx" not in [m.name for m in archive.listing(path)]
    assert not list(path.parent.glob(".*partial"))


def test_an_unwritable_destination_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(archive.ArchiveError, match="cannot create the output folder"):
        archive.package(models.MLP(), tmp_path / "file", onnx=False)


def test_only_the_books_models_can_be_packaged():
    with pytest.raises(archive.ArchiveError, match="cannot package a Linear"):
        archive.network_spec(torch.nn.Linear(784, 10))


def _tar(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _file(name: str, payload: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info, payload


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize(
    "member",
    [
        _file("../escaped.txt"),
        _file("code/../../escaped.txt"),
        _file("/tmp/absolute.txt"),
        _link("code/inference.py", "/etc/passwd", tarfile.SYMTYPE),
        _link("model.pth", "../../outside", tarfile.SYMTYPE),
        _link("model.pth", "/etc/passwd", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-abs", "symlink-up", "hardlink"],
)
def test_unsafe_archives_are_refused(tmp_path, member):
    bad = _tar(tmp_path / "bad.tar.gz", _file("model.pth"), member)
    dest = tmp_path / "dest"
    with pytest.raises(archive.ArchiveError, match="refused, unsafe member"):
        archive.extract(bad, dest)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "outside").exists()


def test_incomplete_unreadable_missing_and_oversized_archives(tmp_path, monkeypatch):
    partial = _tar(tmp_path / "partial.tar.gz", _file("model.pth"))
    with pytest.raises(archive.ArchiveError, match="lacks code/inference.py, code/model.json"):
        archive.extract(partial, tmp_path / "a")
    (tmp_path / "junk.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(archive.ArchiveError, match="not a readable .tar.gz"):
        archive.extract(tmp_path / "junk.tar.gz", tmp_path / "b")
    with pytest.raises(archive.ArchiveError, match="no such archive"):
        archive.listing(tmp_path / "absent.tar.gz")
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 10)
    big = _tar(tmp_path / "big.tar.gz", _file("model.pth", b"x" * 11))
    with pytest.raises(archive.ArchiveError, match="over the limit"):
        archive.extract(big, tmp_path / "c")


def test_handler_code_that_breaks_the_contract_is_refused(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    with pytest.raises(archive.ArchiveError, match="differs from this fmnist-edu's handler"):
        archive.load_handler(tmp_path)  # refused unless trusted: importing it would run it
    with pytest.raises(archive.ArchiveError, match="lacks the SageMaker handler function input_fn"):
        archive.load_handler(tmp_path, trust_code=True)
    (code / "inference.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(archive.ArchiveError, match="fails to import .RuntimeError: boom"):
        archive.load_handler(tmp_path, trust_code=True)


def test_layers_the_handler_cannot_rebuild_are_refused_when_packaging():
    odd = models.MLP()
    odd.add_module("norm", torch.nn.BatchNorm1d(10))
    with pytest.raises(archive.ArchiveError, match="layer 'norm': .* BatchNorm1d"):
        archive.network_spec(odd)
    with pytest.raises(ValueError, match="layer 'x' has an unknown type 'Softmax'"):
        inference.build_network({"layers": [{"name": "x", "type": "Softmax"}]})


def test_model_json_keeps_one_layer_per_line(cnn):
    text = archive.model_json({"network": archive.network_spec(cnn)})
    assert json.loads(text) == {"network": archive.network_spec(cnn)}
    assert '{ "name": "conv1", "type": "Conv2d", "in": 1, "out": 32,' in text


def test_a_missing_onnx_exporter_is_a_clear_error(tmp_path, monkeypatch):
    from fmnist_edu.deploy import export

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'onnxscript'", name="onnxscript")

    monkeypatch.setattr(export, "to_onnx", missing)
    with pytest.raises(
        archive.ArchiveError, match=r"needs onnxscript.*fmnist-edu\[serve\].*--no-onnx"
    ):
        archive.package(models.MLP(), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # an error leaves no half-made output folder


def _bn_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16, 10),
    ).eval()  # fmt: skip


def test_a_model_of_ones_own_is_packaged_as_torchscript_and_served(tmp_path):
    model = _bn_cnn()
    path = archive.package(model, tmp_path / "mine", onnx=False)
    names = [m.name for m in archive.listing(path)]
    assert inference.TORCHSCRIPT in names and "model.pth" not in names
    folder = archive.extract(path, tmp_path / "x")
    handler = inference.load_model(folder)
    images = torch.randint(0, 256, (3, 28, 28), generator=torch.Generator().manual_seed(1))
    pixels = images.float().div(255).unsqueeze(1)
    with torch.no_grad():
        expected = torch.softmax(model(pixels), dim=1)
    got = torch.from_numpy(handler(pixels.numpy()))
    assert torch.allclose(got, expected, atol=1e-6)


def test_a_damaged_torchscript_member_is_one_line(tmp_path):
    folder = archive.extract(archive.package(_bn_cnn(), tmp_path / "m", onnx=False), tmp_path / "x")
    (folder / inference.TORCHSCRIPT).write_bytes(b"not a zip")
    with pytest.raises(inference.ModelFileError, match=r"^model.ts: not a TorchScript model"):
        inference.load_model(folder)
