"""The live widgets' build side (issue 19): engine copy, ONNX export and parity, assets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fmnist_edu import data, experiments, models
from fmnist_edu.settings import Profile
from fmnist_edu.transforms import shift
from fmnist_edu.web import assets, engine, predictions
from fmnist_edu.web import export as web_export
from tests.conftest import book_extension, write_idx_folder

ROOT = Path(__file__).resolve().parent.parent
TINY = Profile("tiny", epochs=1, seeds=(0,))


def _fake_engine(folder: Path) -> Path:
    dist = folder / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for i, name in enumerate(engine.ENGINE_FILES):
        (dist / name).write_bytes(b"x" * (10 + i))
    (dist.parent / "package.json").write_text('{"version": "9.9.9"}')
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = write_idx_folder(tmp_path_factory.mktemp("data"), n_train=60, n_test=30)
    return data.load(folder)


def test_a_missing_engine_names_the_folder_and_the_install_command(tmp_path):
    with pytest.raises(engine.EngineMissing) as caught:
        engine.engine_dir(tmp_path / "node_modules")
    message = str(caught.value)
    assert str(tmp_path / "node_modules") in message and "npm ci --prefix tools/web" in message
    assert "\n" not in message


def test_the_engine_files_are_copied_with_their_sizes(tmp_path):
    modules = _fake_engine(tmp_path / "node_modules")
    sizes = engine.copy_engine(tmp_path / "site", modules)
    assert sizes == {name: 10 + i for i, name in enumerate(engine.ENGINE_FILES)}
    assert engine.engine_version(modules) == "9.9.9"
    assert (tmp_path / "site" / "ort-wasm-simd-threaded.wasm").read_bytes() == b"x" * 12


def test_the_tapped_cnn_returns_the_logits_and_the_feature_maps():
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    x = torch.rand(3, 1, 28, 28)
    logits, conv1, conv2 = web_export.Tapped(cnn)(x)
    assert torch.equal(logits, cnn(x))
    assert conv1.shape == (3, 32, 28, 28) and conv2.shape == (3, 64, 14, 14)
    assert torch.equal(conv1, cnn.features.relu1(cnn.features.conv1(x)))
    with pytest.raises(Exception, match="no layer 'relu9'"):
        web_export.Tapped(cnn, ("relu9",))


def _model(name: str, seed: int = 0) -> web_export.ChapterModel:
    torch.manual_seed(seed)
    experiment = experiments.Experiment(model=name, epochs=1, seed=seed)
    return web_export.ChapterModel(name, experiment, "key", 0.5, experiment.build().eval())


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_the_export_matches_pytorch_and_a_wrong_file_fails(tmp_path, name):
    model = _model(name)
    path = web_export.export(model, tmp_path / f"{name}.onnx")
    x = torch.rand(5, 1, 28, 28)
    assert web_export.check_parity(model, path, x) <= web_export.TOLERANCE
    outputs = web_export.onnx_outputs(path, x)
    assert list(outputs) == list(web_export.output_names(name))
    other = _model(name, seed=1)  # other weights: the file no longer matches
    with pytest.raises(web_export.ParityError, match=f"{name}.onnx: output 'logits' differs"):
        web_export.check_parity(other, path, x)


def test_the_picker_takes_the_first_images_of_each_class():
    labels = torch.tensor([3, 0, 0, 1, 3, 2, 0, 1, 2, 3] + list(range(4, 10)) * 2)
    split = data.Split(torch.zeros(len(labels), 28, 28, dtype=torch.uint8), labels)
    chosen = predictions.pick_images(split, per_class=2)
    assert chosen.tolist()[:8] == [1, 2, 3, 7, 5, 8, 0, 4]
    assert split.labels[chosen].tolist() == sorted(split.labels[chosen].tolist())


def test_shift_records_are_the_models_on_the_moved_images():
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    split = data.Split(images, torch.arange(4))
    model = _model("mlp").module
    records = predictions.shift_records(split, {"mlp": model}, move=(1, -2))
    assert records["move"] == {"dy": 1, "dx": -2}
    moved = predictions.probabilities(model, shift(images, 1, -2))
    assert records["probabilities"]["mlp"] == moved
    assert records["probabilities"]["mlp"] != predictions.probabilities(model, images)


def test_site_assets_without_the_engine(tmp_path, tiny):
    store_dir = tmp_path / "store"
    manifest = assets.write_site_assets(
        tmp_path / "site", tiny, assets.ResultStore(store_dir), TINY, tmp_path / "none"
    )
    folder = tmp_path / "site" / "_static" / "fmnist" / "assets"
    assert manifest["engine"] is None and "npm ci --prefix tools/web" in manifest["engine_missing"]
    assert not (tmp_path / "site" / "_static" / "fmnist" / "ort").exists()
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    for name in ("cnn", "mlp"):
        entry = manifest["models"][name]
        assert (folder / entry["file"]).stat().st_size == manifest["sizes"][entry["file"]]
        assert entry["max_abs_diff_onnxruntime"] <= web_export.TOLERANCE
        result = experiments.run(
            experiments.Experiment(model=name, epochs=1, seed=0),
            tiny,
            assets.ResultStore(store_dir),
        )
        assert result.from_store and entry["test_accuracy"] == result.test.accuracy
        assert (store_dir / f"{entry['store_key']}.json").is_file()
    images = json.loads((folder / "images.json").read_text())
    assert len(images["pixels"]) == 20 and all(len(p) == 784 for p in images["pixels"])
    assert sorted(images["labels"]) == sorted(list(range(10)) * 2)
    rows = assets.site_growth(manifest, code_bytes=1000)
    assert rows[-1] == ("total", sum(size for _, size in rows[:-1]))
    assert not any(part.startswith("engine") for part, _ in rows)


def test_widget_pages_without_the_engine_say_so():
    web = book_extension("fmnist_web")
    body = "<p>x</p>" + web.widget_html("predict") + web.widget_html("arithmetic")
    filled = web.fill_page(body, "_static/fmnist/assets/", engine=False)
    assert web.BASE not in filled and 'data-base="_static/fmnist/assets/"' in filled
    assert filled.count(web.NO_ENGINE_NOTE) == 1 and filled.count(web.JS_NOTE) == 1
    with_engine = web.fill_page(body, "b/", engine=True)
    # The model widget needs WebAssembly too; the arithmetic explorable only JavaScript.
    assert with_engine.count(web.NOTE) == 1 and with_engine.count(web.JS_NOTE) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="builds a small book")
def test_a_book_builds_with_its_widgets_but_no_engine(tmp_path):
    (tmp_path / "book").mkdir()
    write_idx_folder(tmp_path / "data", n_train=60, n_test=30)
    (tmp_path / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: 'off'\n"
        f"sphinx:\n  local_extensions:\n    fmnist_web: {ROOT / 'book' / '_ext'}\n"
        f"  config:\n    fmnist_web_modules: {tmp_path / 'no_node_modules'}\n"
    )
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-article\nroot: page\n")
    (tmp_path / "book" / "page.md").write_text(
        "# Page\n\n```{fmnist-widget} shift\n```\n\n```{fmnist-site-size}\n```\n"
    )
    env = dict(os.environ, FMNIST_EDU_DATA=str(tmp_path / "data"),
               FMNIST_EDU_CACHE=str(tmp_path / "store"), FMNIST_EDU_PROFILE="quick")  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", "book", "-W"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "page.html").read_text()
    web = book_extension("fmnist_web")
    assert web.NO_ENGINE_NOTE in page and 'data-widget="shift"' in page
    assert 'import("./_static/fmnist/widgets.mjs").then((m) => m.mountAll(document))' in page
    assert "What the live widgets add" in page and "model: CNN (cnn.onnx)" in page
    static = tmp_path / "_build" / "html" / "_static" / "fmnist"
    assert (static / "assets" / "cnn.onnx").is_file() and not (static / "ort").exists()


def test_repeated_inline_scripts_are_dropped_once():
    from sphinx.builders.html._assets import _JavaScript

    web = book_extension("fmnist_web")
    config = "const THEBE_JS_URL = 1"
    scripts = [
        _JavaScript("a.js"),
        _JavaScript("", body=config),
        _JavaScript("b.js"),
        _JavaScript(None, body=config),
        _JavaScript(None, body="let other = 2"),
    ]
    kept = web.unique_scripts(scripts)
    assert [s.filename for s in kept] == ["a.js", "", "b.js", None]
    assert kept[-1].attributes["body"] == "let other = 2"


def test_site_growth_counts_the_engine_models_data_and_code():
    manifest = {
        "engine": {"version": "1.30.0", "files": {"a.wasm": 1000, "b.mjs": 20}},
        "models": {"cnn": {"file": "cnn.onnx"}, "mlp": {"file": "mlp.onnx"}},
        "sizes": {"cnn.onnx": 300, "mlp.onnx": 100, "images.json": 7, "shift.json": 3},
    }
    rows = dict(assets.site_growth(manifest, code_bytes=50))
    assert rows == {
        "engine: ONNX Runtime Web 1.30.0": 1020,
        "model: CNN (cnn.onnx)": 300,
        "model: MLP (mlp.onnx)": 100,
        "widget data (JSON)": 10,
        "widget code (JavaScript, CSS)": 50,
        "total": 1480,
    }
