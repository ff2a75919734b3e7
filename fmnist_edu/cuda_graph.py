"""Replay a training step as a CUDA graph: the same kernels, launched all at once.

At batch 128 a GPU finishes each kernel of a small network faster than Python can
launch the next one, so a plain loop leaves the GPU idle most of the time. A CUDA graph
records every kernel of one step (forward, loss, backward, optimiser, the running sums)
once and replays the recording with one launch per step (NVIDIA's CUDA graphs; PyTorch's
``torch.cuda.graph``).

A replay runs exactly the recorded kernels on the recorded memory, so :class:`GraphedStep`
gives the same numbers as calling the step itself, provided the step

- reads its batch only from the two static input tensors it is captured with,
- leaves its results only in tensors that outlive the capture (the model's weights, the
  optimiser's state, running sums), never in new tensors that the caller reads later,
- draws random numbers only from torch's CUDA generator (dropout), which PyTorch keeps
  in step between replays and eager calls.

:func:`fmnist_edu.training.train` builds its step that way. A batch of another size (the
last, smaller batch of an epoch) runs eagerly. If capturing fails, a warning is logged
and every later step runs eagerly: slower, with the same results.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import torch

log = logging.getLogger(__name__)

#: A step: ``(uint8 images [B, 28, 28], labels [B])``, updating state in place.
Step = Callable[[torch.Tensor, torch.Tensor], None]
#: Records ``fn`` without running it and returns a function that replays the record.
Capture = Callable[[Callable[[], None]], Callable[[], None]]


def cuda_capture(fn: Callable[[], None]) -> Callable[[], None]:
    """Record ``fn``'s kernels in a CUDA graph (nothing runs yet); return its ``replay``."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


@contextlib.contextmanager
def side_stream() -> Iterator[None]:
    """Run the block on a fresh CUDA stream, ordered after and before the current one.

    PyTorch's recipe warms a step up on a side stream before capturing it, so that lazy
    set-up (cuBLAS handles, optimiser state) does not happen inside the capture.
    """
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream().wait_stream(stream)


class GraphedStep:
    """Call ``step`` through a CUDA graph for batches of ``batch_size`` images.

    The first ``warmup`` full-size calls run eagerly on a side stream; the next one
    copies its batch into static tensors, captures ``step`` on them and replays it
    (capturing runs nothing, so that call's step happens in the replay); every later
    full-size call copies and replays. Calls with another batch size run ``step`` itself.

    Args:
        step: the training step (see the module's conditions).
        images, labels: a full-size batch: shapes, dtypes and device of the static inputs.
        warmup: eager full-size calls before capturing.
        capture: how to capture (:func:`cuda_capture`; tests pass a stand-in).
        warmup_context: where the warm-up runs (:func:`side_stream`).
    """

    def __init__(
        self,
        step: Step,
        images: torch.Tensor,
        labels: torch.Tensor,
        warmup: int = 3,
        capture: Capture = cuda_capture,
        warmup_context: Callable[[], contextlib.AbstractContextManager] = side_stream,
    ) -> None:
        self.step, self.warmup, self.capture = step, warmup, capture
        self.warmup_context = warmup_context
        self.static_images = torch.empty_like(images)
        self.static_labels = torch.empty_like(labels)
        self.replay: Callable[[], None] | None = None
        self.failed = False
        self.warmed = 0

    @property
    def batch_size(self) -> int:
        """The number of images of the batches that are replayed."""
        return len(self.static_labels)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Run one step on ``images`` (``uint8 [B, 28, 28]``) and ``labels`` (``[B]``)."""
        if self.failed or len(labels) != self.batch_size:
            self.step(images, labels)
            return
        if self.warmed < self.warmup:
            self.warmed += 1
            with self.warmup_context():
                self.step(images, labels)
            return
        self.static_images.copy_(images)
        self.static_labels.copy_(labels)
        if self.replay is None:
            try:
                self.replay = self.capture(
                    lambda: self.step(self.static_images, self.static_labels)
                )
            except RuntimeError as exc:
                self.failed = True
                log.warning(
                    "capturing the training step in a CUDA graph failed (%s); "
                    "training on with the plain loop, which gives the same results",
                    " ".join(str(exc).split())[:300],
                )
                self.step(images, labels)
                return
        self.replay()
