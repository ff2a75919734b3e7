"""Markdown tables of the Deployment chapter: the archive, the exports, the live requests.

Each function takes what the deployment code measured and returns a Markdown table (render
it with ``IPython.display.Markdown``), so the chapter only calls and shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fmnist_edu.data import CLASS_NAMES
from fmnist_edu.deploy.archive import Member
from fmnist_edu.deploy.export import Parity
from fmnist_edu.deploy.loadtest import LoadResult

ROLES = {
    "model.pth": "the weights: a `state_dict`, loaded with `weights_only=True`",
    "model.onnx": "the same network for ONNX Runtime (the second backend)",
    "code/inference.py": "the handler: `model_fn`, `input_fn`, `predict_fn`, `output_fn`",
    "code/model.json": "the network's shape, the class names, where the model came from",
    "code/requirements.txt": "extra packages for the container to install (none)",
}
"""What each file of an archive is for."""

FORMATS = {"eager": "PyTorch `state_dict`", "torchscript": "TorchScript", "onnx": "ONNX"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def listing(members: Sequence[Member]) -> str:
    """The files of an archive: path, size and role."""
    rows = [(f"`{m.name}`", f"{m.size:,}", ROLES.get(m.name, "")) for m in members]
    return _table(("file", "bytes", "what it is"), rows, (":--", "--:", ":--"))


def parity(checks: Mapping[str, Parity]) -> str:
    """Each export against eager PyTorch: size, largest difference, agreeing classes."""
    rows = [
        (
            FORMATS.get(name, name),
            f"`{check.path.name}`",
            f"{check.size_bytes / 1e6:.2f}",
            "0 (the reference)" if name == "eager" else f"{check.max_abs_diff:.1e}",
            f"{check.agreeing:,} of {check.images:,}",
        )
        for name, check in checks.items()
    ]
    header = ("format", "file", "MB", "largest probability difference", "same class")
    return _table(header, rows, (":--", ":--", "--:", "--:", "--:"))


def answers(rows: Sequence[tuple[str, int, int, Sequence[int], Sequence[int]]]) -> str:
    """Good requests: content type, body bytes, status, predicted and true classes.

    Each row is ``(content_type, body_bytes, status, predicted_labels, true_labels)``.
    """
    out = []
    for content_type, size, status, predicted, true in rows:
        names = ", ".join(CLASS_NAMES[p] for p in predicted)
        truth = ", ".join(CLASS_NAMES[t] for t in true)
        out.append((f"`{content_type}`", len(true), f"{size:,}", status, names, truth))
    header = ("content type", "images", "body bytes", "status", "predicted", "true class")
    return _table(header, out, (":--", "--:", "--:", "--:", ":--", ":--"))


def refusals(rows: Sequence[tuple[str, str, int, int, str]]) -> str:
    """Bad requests: what was sent, its content type, the expected and the actual status,
    and the endpoint's message. Each row is ``(what, content_type, expected, got, message)``.
    """
    out = [
        (
            what,
            f"`{content_type}`",
            expected,
            got,
            message[:90] + ("…" if len(message) > 90 else ""),
        )
        for what, content_type, expected, got, message in rows
    ]
    header = ("request", "content type", "expected", "answered", "message")
    return _table(header, out, (":--", ":--", "--:", "--:", ":--"))


def latency(results: Mapping[str, LoadResult]) -> str:
    """Latency percentiles and throughput of each backend's load-test run."""
    rows = [
        (
            name,
            r.concurrency,
            f"{r.requests:,}",
            f"{r.p50:.2f}",
            f"{r.p99:.2f}",
            f"{r.per_second:,.0f}",
            r.failures,
        )  # fmt: skip
        for name, r in results.items()
    ]
    header = ("backend", "concurrency", "requests", "p50 ms", "p99 ms", "requests/s", "failed")
    return _table(header, rows, (":--", "--:", "--:", "--:", "--:", "--:", "--:"))
