"""``explain``: one test image's attribution map, drawn into a file."""

from __future__ import annotations

import argparse
import errno
import os
import tempfile
from pathlib import Path

from fmnist_edu import data
from fmnist_edu.cli import options
from fmnist_edu.errors import FmnistEduError


def explain(args: argparse.Namespace) -> None:
    """``explain``: draw one test image's attribution map into a PNG or SVG file."""
    from fmnist_edu import interpret, plots_interpret  # Captum and matplotlib: slow imports

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise FmnistEduError(f"--out {out}: name a .png or .svg file")
    if not out.parent.is_dir():
        raise FmnistEduError(f"--out {out}: the folder {out.parent} does not exist")
    _check_writable(out)  # before training, not after
    interpret.get_method(args.method)  # an unknown name: the error lists the methods
    experiment = options.experiment(args)
    if args.method == "grad-cam":
        interpret.last_conv(experiment.build())  # refuse the MLP before training it
    dataset = data.load(args.data_dir)
    if not 0 <= args.index < len(dataset.test):
        raise FmnistEduError(
            f"--index {args.index}: the test split holds {len(dataset.test):,} images; "
            f"choose 0 to {len(dataset.test) - 1:,}"
        )
    if args.target is not None and not 0 <= args.target < len(data.CLASS_NAMES):
        raise FmnistEduError(f"--target {args.target}: choose a class from 0 to 9")
    result = options.stored_or_trained(experiment, dataset)
    figure, line = plots_interpret.explain_test_image(
        result.model(), dataset.test, args.index, args.method, args.target
    )
    out.write_bytes(figure.render(out.suffix.lower()[1:]))
    print(f"{experiment.label()} (seed {experiment.seed}): {line}")
    print(f"wrote {out}")


def _check_writable(out: Path) -> None:
    """Raise a one-line error unless ``out`` can be written (a scratch file in its folder)."""
    try:
        if out.is_dir():
            raise IsADirectoryError(errno.EISDIR, "a folder is in the way")
        with tempfile.TemporaryFile(dir=out.parent, prefix=".fmnist-edu-write-check-"):
            pass
        if out.exists() and not os.access(out, os.W_OK):
            raise PermissionError(errno.EACCES, "the file is read-only")
    except OSError as exc:
        raise FmnistEduError(f"--out {out}: cannot be written ({exc.strerror or exc})") from None


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("explain", parents=[common], help="draw an attribution map of a test image")
    options.add_experiment_options(p)
    p.add_argument(
        "--method",
        default="saliency",
        help="saliency, integrated-gradients, smoothgrad, occlusion, grad-cam, guided-backprop "
        "or deeplift (see fmnist_edu.interpret.METHODS)",
    )
    p.add_argument(
        "--index", type=options.whole_number, default=0, help="which test image (from 0)"
    )
    p.add_argument(
        "--target",
        type=options.whole_number,
        default=None,
        help="class to explain (default: predicted)",
    )
    p.add_argument("--out", default="explanation.png", help="a .png or .svg file to write")
    p.set_defaults(func=explain)
