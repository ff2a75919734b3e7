"""TorchScript and ONNX exports reproduce eager PyTorch on real test images."""

from __future__ import annotations

import torch

from fmnist_edu.data import Split
from fmnist_edu.deploy import export
from fmnist_edu.training import to_inputs


def test_both_exports_match_eager_pytorch(cnn, subset, tmp_path):
    split = Split(subset.test.images[:300], subset.test.labels[:300])
    checks = export.check_exports(cnn, split, tmp_path)
    assert list(checks) == ["eager", "torchscript", "onnx"]
    assert checks["eager"].max_abs_diff == 0 and checks["eager"].same_predictions
    for name in ("torchscript", "onnx"):
        check = checks[name]
        assert check.images == 300 and check.same_predictions, name
        assert 0 <= check.max_abs_diff < 1e-5, name
        assert check.size_bytes == check.path.stat().st_size > 1_000_000  # 421,642 floats


def test_the_onnx_graph_takes_any_batch_size(cnn, subset, tmp_path):
    path = export.to_onnx(cnn, tmp_path / "model.onnx")
    for n in (1, 3, 700):
        inputs = to_inputs(subset.test.images[:n]).contiguous()
        with torch.inference_mode():
            expected = cnn(inputs)
        assert torch.allclose(export.onnx_logits(path, inputs), expected, atol=1e-4)


def test_torchscript_reports_what_torch_says_of_it(cnn, tmp_path):
    path, warning = export.to_torchscript(cnn, tmp_path / "model.pt")
    assert path.is_file()
    assert "deprecated" in warning  # torch 2.14.1, as pinned, says so when scripting
