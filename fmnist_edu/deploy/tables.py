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
    "model.pth": "the weights (a state_dict)",
    "model.onnx": "the network for ONNX Runtime",
    "code/inference.py": "the handler's code",
    "code/model.json": "the network's layers, the classes, the model's origin",
    "code/requirements.txt": "packages to install (none)",
}
"""What each file of an archive is for (short: the table must fit a phone)."""

FORMATS = {"eager": "PyTorch `state_dict`", "torchscript": "TorchScript", "onnx": "ONNX"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def listing(members: Sequence[Member]) -> str:
    """The files of an archive: path and role in one column (it wraps on a phone), size."""
    rows = [
        (f"`{m.name}`" + (f": {ROLES[m.name]}" if m.name in ROLES else ""), f"{m.size:,}")
        for m in members
    ]
    return _table(("file: what it is", "bytes"), rows, (":--", "--:"))


def parity(checks: Mapping[str, Parity]) -> str:
    """Each export against eager PyTorch: size, largest difference, agreeing classes."""
    rows = [
        (
            FORMATS.get(name, name),
            f"{check.size_bytes / 1e6:.2f}",
            "0 (reference)" if name == "eager" else f"{check.max_abs_diff:.1e}",
            f"{check.agreeing:,} of {check.images:,}",
        )
        for name, check in checks.items()
    ]
    header = ("format", "MB", "largest difference", "same class")
    return _table(header, rows, (":--", "--:", "--:", "--:"))


def answers(rows: Sequence[tuple[str, int, int, Sequence[int], Sequence[int]]]) -> str:
    """Good requests: content type, body bytes and each image's predicted class (with its
    true class where they differ); a status other than 200 is shown after the classes.

    Each row is ``(content_type, body_bytes, status, predicted_labels, true_labels)``.
    """
    out = []
    for content_type, size, status, predicted, true in rows:
        names = ", ".join(
            CLASS_NAMES[p] + ("" if p == t else f" (true: {CLASS_NAMES[t]})")
            for p, t in zip(predicted, true, strict=True)
        )
        out.append((f"`{content_type}`", f"{size:,}", names + ("" if status == 200 else
                    f" (status {status})")))  # fmt: skip
    return _table(("content type", "bytes", "predicted"), out, (":--", "--:", ":--"))


def refusals(rows: Sequence[tuple[str, str, int, int, str]]) -> str:
    """Bad requests: what was sent, the status it got and the endpoint's message.

    Each row is ``(what, content_type, expected, got, message)``; a status other than the
    expected one shows both. Three columns, so that the message stays on a phone's screen.
    """
    out = [
        (
            what,
            f"{got}" if got == expected else f"{got} (expected {expected})",
            message[:90] + ("…" if len(message) > 90 else ""),
        )
        for what, _, expected, got, message in rows
    ]
    return _table(("request", "status", "message"), out, (":--", "--:", ":--"))


def latency(results: Mapping[str, Sequence[LoadResult]]) -> str:
    """Latency percentiles and answers per second of each backend's load-test runs.

    ``results`` maps a backend's name to its runs (e.g. one and eight connections).
    """
    rows = [
        (name, r.concurrency, f"{r.p50:.2f}", f"{r.p99:.2f}", f"{r.per_second:,.0f}")
        for name, runs in results.items()
        for r in runs
    ]
    header = ("backend", "conns", "p50 ms", "p99 ms", "answers/s")
    return _table(header, rows, (":--", "--:", "--:", "--:", "--:"))
