"""Occlusion for the live widget (fmnist_edu.web.occlusion): Captum's, ONNX Runtime's, the JS's."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fmnist_edu import models
from fmnist_edu.data import Split
from fmnist_edu.deploy.export import to_onnx
from fmnist_edu.training import to_inputs
from fmnist_edu.web import occlusion
from fmnist_edu.web.assets import AssetContext
from fmnist_edu.web.export import ParityError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.CNN().eval()


@pytest.fixture(scope="module")
def onnx_path(cnn, tmp_path_factory) -> Path:
    return to_onnx(cnn, tmp_path_factory.mktemp("onnx") / "cnn.onnx")


@pytest.fixture(scope="module")
def split(subset) -> Split:
    return Split(subset.test.images[:3], subset.test.labels[:3])


def _decode(text: str, count: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), "<f4").reshape(count, 28, 28)


def test_the_settings_are_the_chapters_and_a_finer_step():
    assert occlusion.SETTINGS["chapter"] == (4, 4)  # interpret.METHODS["occlusion"]
    assert [len(occlusion.corners(*s)) for s in occlusion.SETTINGS.values()] == [49, 169]
    assert occlusion.corners(4, 2)[:2] == [(0, 0), (0, 2)] and occlusion.corners(4, 2)[-1] == (
        24,
        24,
    )
    with pytest.raises(ValueError, match="window=0"):
        occlusion.corners(0, 1)


@pytest.mark.parametrize("setting", list(occlusion.SETTINGS))
def test_mean_drops_is_captums_occlusion(cnn, split, setting):
    window, stride = occlusion.SETTINGS[setting]
    inputs = to_inputs(split.images).contiguous()
    target = torch.tensor([3, 0, 7])
    reference = occlusion.captum_maps(cnn, inputs, target, window, stride)
    for i, image in enumerate(inputs):
        with torch.no_grad():
            base = cnn(image[None])[0, target[i]]
            logits = cnn(occlusion.occluded(image, window, stride))[:, target[i]]
        mine = occlusion.mean_drops(float(base), logits.numpy(), window, stride)
        assert np.abs(mine - reference[i].numpy()).max() < 1e-5
        assert np.abs(mine).max() > 0


def test_records_hold_captums_maps_checked_against_onnxruntime(cnn, onnx_path, split):
    inputs = to_inputs(split.images).contiguous()
    value = occlusion.records(cnn, onnx_path, inputs)
    with torch.no_grad():
        assert value["targets"] == cnn(inputs).argmax(1).tolist()
    for label, (window, stride) in occlusion.SETTINGS.items():
        entry = value["settings"][label]
        assert (entry["window"], entry["stride"]) == (window, stride)
        assert entry["passes"] == len(occlusion.corners(window, stride))
        maps = _decode(entry["captum"], len(inputs))
        target = torch.tensor(value["targets"])
        expected = occlusion.captum_maps(cnn, inputs, target, window, stride).numpy()
        assert np.array_equal(maps, expected)
        assert 0 <= entry["max_abs_diff_onnxruntime"] <= occlusion.TOLERANCE


def test_a_mismatch_fails_the_build_with_one_line(split, cnn):
    maps = torch.zeros(2, 28, 28)
    shifted = maps.numpy().copy()
    shifted[1, 5, 5] = 0.01
    with pytest.raises(ParityError, match=r"^occlusion \(fine\): .* differ from Captum's by 0\.01"):
        occlusion.check(maps, shifted, "fine")
    assert occlusion.check(maps, maps.numpy(), "fine") == 0


def test_the_writer_writes_the_asset_and_its_manifest_entry(cnn, onnx_path, split, tmp_path):
    folder = tmp_path / "assets"
    folder.mkdir()
    ctx = AssetContext(tmp_path, folder, None, None, None, {"cnn": SimpleNamespace(module=cnn)},
                       {"cnn": onnx_path}, [0, 1, 2], split, "test")  # fmt: skip
    entry = occlusion.write(ctx)
    stored = json.loads((folder / occlusion.ASSET).read_text())
    assert entry["file"] == occlusion.ASSET and entry["images"] == 3
    assert set(entry["max_abs_diff_onnxruntime"]) == set(occlusion.SETTINGS)
    assert ctx.written[occlusion.ASSET] == (folder / occlusion.ASSET).stat().st_size
    assert len(stored["targets"]) == 3 and set(stored["settings"]) == set(occlusion.SETTINGS)


NODE_SCRIPT = """
import { readFileSync } from "node:fs";
const occ = await import(process.argv[1]);
const given = JSON.parse(readFileSync(0, "utf8"));
const image = Float32Array.from(given.image);
const out = {};
for (const [label, [window, stride]] of Object.entries(given.settings)) {
  const batch = occ.occludedBatch(image, window, stride);
  const maps = occ.meanDrops(given.base, given.logits[label], window, stride);
  out[label] = { batch: Array.from(batch), maps: Array.from(maps) };
}
out.decoded = Array.from(occ.decodeMaps(given.encoded));
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
def test_the_javascript_computes_what_python_does(split, tmp_path):
    static = tmp_path / "fmnist"
    shutil.copytree(ROOT / "book/_static/fmnist", static)
    image = to_inputs(split.images[:1]).contiguous()[0]
    rng = np.random.default_rng(0)
    logits = {k: rng.normal(size=len(occlusion.corners(*s))).astype("float32").tolist()
              for k, s in occlusion.SETTINGS.items()}  # fmt: skip
    maps = torch.from_numpy(rng.normal(size=(2, 28, 28)).astype("float32"))
    given = {"image": image.flatten().tolist(), "settings": occlusion.SETTINGS, "base": 0.5,
             "logits": logits, "encoded": occlusion.encode(maps)}  # fmt: skip
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_SCRIPT, (static / "occlusion.mjs").as_uri()],
        input=json.dumps(given), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    for label, (window, stride) in occlusion.SETTINGS.items():
        batch = torch.cat([image[None], occlusion.occluded(image, window, stride)])
        assert np.array_equal(np.float32(got[label]["batch"]), batch.flatten().numpy())
        want = occlusion.mean_drops(0.5, np.float32(logits[label]), window, stride).flatten()
        assert np.abs(np.float32(got[label]["maps"]) - want).max() < 1e-6
    assert np.array_equal(np.float32(got["decoded"]), maps.flatten().numpy())
