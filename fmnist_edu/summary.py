"""Per-layer accounting computed from a model: output shape, parameters, MACs, receptive field.

The table is measured, not typed: a dummy image is passed through the model and every
leaf layer reports what it produced. The receptive field follows the usual recurrence
(Araujo et al., 2019): a layer with kernel ``k``, dilation ``d``, stride ``s`` and
padding ``p`` grows the field by ``d * (k - 1) * jump``, multiplies the jump (the
input-pixel distance between neighbouring outputs) by ``s``, and moves the first input
pixel its first unit sees by ``-p * jump``. After a flatten, each unit sees the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fmnist_edu.models import IMAGE_SIDE


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model summary."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    macs: int
    receptive_field: int
    #: Input pixels between the fields of neighbouring units along a side.
    jump: int = 1
    #: Input row (and column) where unit 0's field starts: negative reaches into padding.
    field_start: int = 0
    #: The field's side before clipping to the image (``receptive_field`` is clipped).
    field_extent: int = 1


def _pair(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else value


def _span(kernel: int, dilation: int) -> int:
    """A (dilated) kernel's extent: ``d * (k - 1) + 1`` input positions."""
    return dilation * (kernel - 1) + 1


def summarize(model: nn.Module, side: int = IMAGE_SIDE) -> list[LayerInfo]:
    """Return one :class:`LayerInfo` per leaf layer, for a single ``[1, 1, side, side]`` image.

    MACs count the multiply-accumulates of convolutions and dense layers per image;
    activations, pooling and dropout count zero.
    """
    rows: list[LayerInfo] = []
    field, jump, start = 1, 1, 0
    hooks = []

    def grow(span: int, stride: int, padding: int) -> None:
        nonlocal field, jump, start
        field, start, jump = field + (span - 1) * jump, start - padding * jump, jump * stride

    def record(name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            nonlocal field, start
            params = sum(p.numel() for p in module.parameters(recurse=False))
            macs = 0
            if isinstance(module, nn.Conv2d):
                k, s = _pair(module.kernel_size), _pair(module.stride)
                per_output = module.in_channels // module.groups * k * k
                macs = output[0].numel() * per_output
                grow(_span(k, _pair(module.dilation)), s, _pair(module.padding))
            elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
                k, s = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
                dilation = _pair(module.dilation) if isinstance(module, nn.MaxPool2d) else 1
                grow(_span(k, dilation), s, _pair(module.padding))
            elif isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
                n_in, n_out = inputs[0].shape[-1], output.shape[-1]
                k = -(-n_in // n_out)  # PyTorch's widest window: ceil(n_in / n_out)
                grow(k, max(n_in // n_out, 1), 0)
            elif isinstance(module, nn.Flatten | nn.Linear):
                if isinstance(module, nn.Linear):
                    macs = module.in_features * module.out_features
                field, start = side, 0
            rows.append(
                LayerInfo(
                    name=name,
                    kind=type(module).__name__,
                    output_shape=tuple(output.shape[1:]),
                    parameters=params,
                    macs=macs,
                    receptive_field=min(field, side),
                    jump=jump,
                    field_start=start,
                    field_extent=field,
                )
            )

        return hook

    for name, module in model.named_modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, 1, side, side, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


def unit_window(row: LayerInfo, index: int, side: int = IMAGE_SIDE) -> tuple[int, int] | None:
    """The input rows (or columns) ``(first, last)`` that unit ``index`` of ``row``'s layer sees.

    Unit ``i``'s field starts at ``field_start + i * jump`` and spans ``field_extent``
    pixels; the window is clipped to the image's ``side`` (padding holds no pixels), and is
    ``None`` when the field lies wholly in the padding: that unit sees no pixel at all.
    Raises ``ValueError`` for a unit outside the layer's output.
    """
    units = row.output_shape[-1] if len(row.output_shape) == 3 else 1
    if not 0 <= index < units:
        raise ValueError(f"index={index}: layer {row.name} has units 0..{units - 1} per side")
    first = row.field_start + index * row.jump
    window = max(first, 0), min(first + row.field_extent - 1, side - 1)
    return window if window[0] <= window[1] else None


def format_table(rows: list[LayerInfo]) -> str:
    """Render a summary as a plain-text table with a total line."""
    w = max([len(r.name) for r in rows] + [5]) + 2
    k = max([len(r.kind) for r in rows] + [4]) + 2  # AdaptiveAvgPool2d is 17 letters
    header = f"{'layer':<{w}}{'kind':<{k}}{'output shape':>16}{'params':>12}{'MACs':>14}{'RF':>5}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(str(d) for d in r.output_shape)
        lines.append(
            f"{r.name:<{w}}{r.kind:<{k}}{shape:>16}{r.parameters:>12,}{r.macs:>14,}"
            f"{r.receptive_field:>5}"
        )
    lines.append("-" * len(header))
    total_p = sum(r.parameters for r in rows)
    total_m = sum(r.macs for r in rows)
    lines.append(f"{'total':<{w + k}}{'':>16}{total_p:>12,}{total_m:>14,}")
    return "\n".join(lines)


#: The columns :func:`markdown_table` can show: short header -> cell of a row.
MARKDOWN_COLUMNS = {
    "output": lambda r: "×".join(str(d) for d in r.output_shape),
    "params": lambda r: f"{r.parameters:,}",
    "MACs": lambda r: f"{r.macs:,}",
    "RF": lambda r: f"{r.receptive_field}",
}


def _short_names(rows: list[LayerInfo]) -> list[str]:
    """Each layer's last name part (``conv1`` for ``features.conv1``) when those are unique."""
    short = [r.name.rsplit(".", 1)[-1] for r in rows]
    return short if len(set(short)) == len(short) else [r.name for r in rows]


def markdown_table(
    rows: list[LayerInfo],
    columns: tuple[str, ...] = ("params", "MACs"),
    kinds: tuple[str, ...] | None = None,
) -> str:
    """Render a summary as a compact Markdown table (for a chapter).

    The first column is the layer's name (its last part, e.g. ``conv1``, which also says
    its kind); ``columns`` picks the others from :data:`MARKDOWN_COLUMNS`: ``"output"``
    (the output shape), ``"params"``, ``"MACs"`` (per image) and ``"RF"`` (the receptive
    field's side, in pixels). Few, short columns keep the numbers visible on a 390 px
    phone; the chapter explains the abbreviations. ``kinds`` keeps only layers of those
    kinds (e.g. ``("Conv2d", "MaxPool2d")``). A total row sums parameters and MACs when
    the table shows them and lists every layer.
    """
    unknown = [c for c in columns if c not in MARKDOWN_COLUMNS]
    if unknown or not columns:
        raise ValueError(f"columns={columns}: choose from {', '.join(MARKDOWN_COLUMNS)}")
    shown = [(r, n) for r, n in zip(rows, _short_names(rows), strict=True)
             if kinds is None or r.kind in kinds]  # fmt: skip
    lines = ["| layer | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [
        f"| `{name}` | " + " | ".join(MARKDOWN_COLUMNS[c](r) for c in columns) + " |"
        for r, name in shown
    ]
    totals = {"params": sum(r.parameters for r in rows), "MACs": sum(r.macs for r in rows)}
    if kinds is None and set(columns) & set(totals):
        cells = [f"**{totals[c]:,}**" if c in totals else "" for c in columns]
        lines.append("| **total** | " + " | ".join(cells) + " |")
    return "\n".join(lines)
