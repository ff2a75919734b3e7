"""Model archives in SageMaker's PyTorch layout: write one, list it, open it safely.

``model.tar.gz`` holds, at its root, ``model.pth`` (the ``state_dict``), ``model.onnx``
(the same network for ONNX Runtime, unless left out) and ``code/``: ``inference.py`` (the
handler, :mod:`fmnist_edu.deploy.inference`, copied unchanged), ``model.json`` (the
network's shape and where it came from) and ``requirements.txt``. SageMaker unpacks the
archive into ``/opt/ml/model`` and imports ``code/inference.py``; :func:`extract` and
:func:`load_handler` do the same on this machine, refusing (unless trusted) handler code
that is not this package's own.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import re
import tarfile
import tempfile
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fmnist_edu import models, optional
from fmnist_edu.deploy import inference
from fmnist_edu.errors import FmnistEduError

ARCHIVE_NAME = "model.tar.gz"
REQUIRED = ("code/inference.py", "code/model.json")
#: One of these holds the model: the book's weights, or a model of your own as TorchScript.
MODEL_FILES = ("model.pth", inference.TORCHSCRIPT)
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
"""An archive that would unpack to more than this is refused (a tar bomb)."""
CODE_REQUIREMENTS = (
    "# torch and numpy come with the SageMaker PyTorch container; nothing else is needed.\n"
    "# For the ONNX backend (environment FMNIST_EDU_BACKEND=onnx), add: onnxruntime==1.30.0\n"
)
_counter = itertools.count()


class ArchiveError(FmnistEduError):
    """A model archive is missing, unreadable, unsafe or incomplete."""


def _pair(value: Any) -> Any:
    """A square kernel's, stride's or padding's one number (or a padding word as is)."""
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ArchiveError(f"cannot package a non-square setting {value}")
        return value[0]
    return value


def _layer_spec(name: str, module: nn.Module) -> dict[str, Any]:
    return {"name": name} | _layer(name, module)


def _layer(name: str, module: nn.Module) -> dict[str, Any]:
    if isinstance(module, nn.Sequential):
        return {"layers": [_layer_spec(n, child) for n, child in module.named_children()]}
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or _pair(module.dilation) != 1 or module.bias is None:
            raise ArchiveError(f"layer {name!r}: only plain convolutions with a bias")
        return {"type": "Conv2d", "in": module.in_channels, "out": module.out_channels,
                "kernel": _pair(module.kernel_size), "stride": _pair(module.stride),
                "padding": _pair(module.padding)}  # fmt: skip
    if isinstance(module, nn.MaxPool2d):
        return {"type": "MaxPool2d", "kernel": _pair(module.kernel_size),
                "stride": _pair(module.stride)}  # fmt: skip
    if isinstance(module, nn.Linear) and module.bias is not None:
        return {"type": "Linear", "in": module.in_features, "out": module.out_features}
    if isinstance(module, nn.Dropout):
        return {"type": "Dropout", "p": module.p}
    if isinstance(module, nn.Flatten) and (module.start_dim, module.end_dim) == (1, -1):
        return {"type": "Flatten"}
    if type(module) is nn.ReLU:
        return {"type": "ReLU"}
    raise ArchiveError(f"layer {name!r}: the handler cannot rebuild a {type(module).__name__}")


def network_spec(model: nn.Module) -> dict[str, Any]:
    """Describe a :class:`~fmnist_edu.models.MLP` or :class:`~fmnist_edu.models.CNN` as
    ``model.json``'s ``network``: its layers in order, with their names and shapes, which
    is what :func:`inference.build_network` needs to rebuild it.

    Both models apply their layers one after the other (the CNN: ``features``, then
    ``classifier``), so a list of layers describes them exactly, whatever their design.
    """
    if isinstance(model, models.MLP):
        return _layer("model", model)
    if isinstance(model, models.CNN):
        parts = (("features", model.features), ("classifier", model.classifier))
        return {"layers": [_layer_spec(name, part) for name, part in parts]}
    raise ArchiveError(f"cannot package a {type(model).__name__}: only the MLP and the CNN")


def model_json(spec: dict[str, Any]) -> str:
    """``code/model.json``'s text: indented, with every innermost list or object (a layer,
    the class names) on one line, so that it reads (and diffs) one layer a line.
    """
    text = json.dumps(spec, indent=1)
    return re.sub(r"[\[{][^\[\]{}]*[\]}]", lambda m: " ".join(m.group(0).split()), text)


def about(result: Any) -> dict[str, Any]:
    """What ``code/model.json`` records of an :class:`~fmnist_edu.experiments.Result`."""
    return {
        "experiment": result.experiment.config(),
        "label": result.experiment.label(),
        "test_accuracy": result.test.accuracy,
        "test_images": result.test_images,
        "train_images": result.train_images,
        "torch": torch.__version__,
    }


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(payload), 0o644
    tar.addfile(info, io.BytesIO(payload))


def package(
    model: nn.Module,
    out_dir: str | Path,
    about: dict[str, Any] | None = None,
    onnx: bool = True,
) -> Path:
    """Write ``out_dir/model.tar.gz`` for ``model`` and return its path.

    The book's MLP and CNN are stored as ``code/model.json`` (their layers) plus
    ``model.pth`` (weights only), which the handler rebuilds; any other model (one of
    your own) as TorchScript (``model.ts``, :func:`torchscript`), which the handler loads
    without its Python class. Nothing is written unless every part succeeded.

    ``about`` (e.g. the experiment's configuration and test accuracy) is stored in
    ``code/model.json`` for whoever opens the archive. With ``onnx``, the archive also
    holds ``model.onnx`` (:func:`fmnist_edu.deploy.export.to_onnx`) for the ONNX backend.
    """
    from fmnist_edu.deploy import export  # the ONNX exporter is slow to import

    model = model.eval()
    out = Path(out_dir)
    spec: dict[str, Any] = {"classes": list(inference.CLASS_NAMES)}
    try:  # the book's models: rebuilt layer by layer from model.json + model.pth
        spec["network"] = network_spec(model)
        weights = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, weights)
        files = {"model.pth": weights.getvalue()}
    except ArchiveError:  # any other model: its TorchScript, which needs no Python class
        spec["format"] = "torchscript"
        files = {inference.TORCHSCRIPT: torchscript(model)}
    spec |= {"input": "pixel values 0-255: one image 28 x 28, or N of them", "about": about or {}}
    files |= {
        "code/inference.py": Path(inference.__file__).read_bytes(),
        "code/model.json": model_json(spec).encode(),
        "code/requirements.txt": CODE_REQUIREMENTS.encode(),
    }
    if onnx:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                files["model.onnx"] = export.to_onnx(model, Path(tmp) / "model.onnx").read_bytes()
            except ImportError as exc:  # an install without the [serve] extra
                raise ArchiveError(
                    f"{optional.message(exc.name or 'onnxscript', 'the ONNX export')}; or "
                    "leave model.onnx out (--no-onnx)"
                ) from None
            except Exception as exc:  # the exporter's own errors, for a model it cannot trace
                raise ArchiveError(
                    f"model.onnx: the ONNX export failed ({str(exc).strip().splitlines()[0]}); "
                    "leave it out with --no-onnx (onnx=False)"
                ) from None
    created = not out.exists()  # nothing is written before everything above succeeded
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    path = out / ARCHIVE_NAME
    partial = out / f".{ARCHIVE_NAME}.partial"
    try:
        with tarfile.open(partial, "w:gz") as tar:
            for name in sorted(files):
                _add(tar, name, files[name])
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            out.rmdir()  # an error leaves no half-made output folder behind
        raise ArchiveError(f"{path}: cannot write the archive ({exc.strerror})") from None
    return path


def torchscript(model: nn.Module) -> bytes:
    """``model`` as TorchScript bytes (scripted, or else traced on a batch of two images).

    Raises:
        ArchiveError: when neither works, naming the problem.
    """
    model = model.eval()
    with warnings.catch_warnings():  # torch 2.14 calls TorchScript deprecated; it still works
        warnings.simplefilter("ignore", FutureWarning)
        return _torchscript(model)


def _torchscript(model: nn.Module) -> bytes:
    try:
        scripted = torch.jit.script(model)
    except Exception:  # many plain modules script; the others usually trace
        try:
            with torch.no_grad():
                scripted = torch.jit.trace(model, torch.zeros(2, 1, 28, 28), check_trace=False)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ArchiveError(f"cannot package this model: TorchScript fails ({first})") from None
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class Member:
    """One file of an archive: its path and its size in bytes."""

    name: str
    size: int


def listing(archive: str | Path) -> list[Member]:
    """The files in ``archive`` (like ``tar tzvf``), in archive order."""
    with _open(archive) as tar:
        return [Member(m.name, m.size) for m in tar.getmembers() if m.isfile()]


def _open(archive: str | Path) -> tarfile.TarFile:
    path = Path(archive)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such archive")
    try:
        return tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{path}: not a readable .tar.gz archive ({exc})") from None


def extract(archive: str | Path, dest: str | Path) -> Path:
    """Unpack ``archive`` into ``dest`` and return ``dest``, refusing anything unsafe.

    Uses :mod:`tarfile`'s ``data`` filter: a member with an absolute path, a ``..`` that
    leaves ``dest``, a link pointing outside it or a device file stops the extraction
    with an :class:`ArchiveError`. So does an archive that lacks :data:`REQUIRED` files
    or all of :data:`MODEL_FILES`, or would unpack to more than :data:`MAX_UNPACKED_BYTES`.
    """
    path, dest = Path(archive), Path(dest)
    with _open(path) as tar:
        try:
            members = tar.getmembers()
            total = sum(m.size for m in members)
            if total > MAX_UNPACKED_BYTES:
                raise ArchiveError(f"{path}: unpacks to {total:,} bytes, over the limit")
            absolute = [m.name for m in members if m.name.startswith("/")]
            if absolute:  # the data filter would strip the slash; a model archive has none
                raise ArchiveError(f"{path}: refused, unsafe member: {absolute[0]!r} is absolute")
            tar.extractall(dest, filter="data")
        except tarfile.FilterError as exc:
            raise ArchiveError(f"{path}: refused, unsafe member: {exc}") from None
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveError(f"{path}: cannot be unpacked ({exc})") from None
    missing = [name for name in REQUIRED if not (dest / name).is_file()]
    if not any((dest / name).is_file() for name in MODEL_FILES):
        missing.append(" or ".join(MODEL_FILES))
    if missing:
        raise ArchiveError(f"{path}: not a model archive; it lacks {', '.join(missing)}")
    return dest


def load_handler(model_dir: str | Path, trust_code: bool = False) -> types.ModuleType:
    """Import ``model_dir/code/inference.py`` as SageMaker would: the archive's own code.

    Importing it runs it, with this process's rights. So unless ``trust_code``, an archive
    whose ``code/inference.py`` is not byte for byte this package's handler
    (:mod:`fmnist_edu.deploy.inference`, which :func:`package` copies) is refused.
    """
    source = Path(model_dir) / "code" / "inference.py"
    if not trust_code and not same_handler(model_dir):
        raise ArchiveError(
            "code/inference.py differs from this fmnist-edu's handler, and serving would run "
            "it: repackage with 'fmnist-edu package', or pass --trust-code if you trust its author"
        )
    name = f"fmnist_edu_archive_inference_{next(_counter)}"  # one module per archive
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise ArchiveError("code/inference.py: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the archive's code is foreign: report, do not crash
        first = str(exc).strip().splitlines()[:1]
        raise ArchiveError(
            f"code/inference.py: fails to import ({': '.join([type(exc).__name__, *first])})"
        ) from None
    for name in ("model_fn", "input_fn", "predict_fn", "output_fn"):
        if not callable(getattr(module, name, None)):
            raise ArchiveError(f"code/inference.py: lacks the SageMaker handler function {name}()")
    return module


def same_handler(model_dir: str | Path) -> bool:
    """Whether ``model_dir/code/inference.py`` is byte for byte this package's handler."""
    try:
        code = (Path(model_dir) / "code" / "inference.py").read_bytes()
    except OSError:
        return False
    return code == Path(inference.__file__).read_bytes()
