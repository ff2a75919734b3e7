"""The ``fmnist-edu`` command (also ``python -m fmnist_edu``).

Every subcommand takes ``--data-dir`` and is one function, registered with its parser
through ``set_defaults(func=...)``. A user mistake (a missing folder, a corrupt file, a
bad option or an out-of-range value) prints one line, ``error: ...``, and exits with 1.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fmnist_edu import data, download, experiments, optional, settings, summary
from fmnist_edu.errors import FmnistEduError
from fmnist_edu.store import ResultStore
from fmnist_edu.training import AUGMENTATIONS


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit with 1, like the rest."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(1, f"error: {message} (see '{self.prog} --help')\n")


def _whole_number(text: str) -> int:
    """Parse an integer option; ranges are checked by :class:`experiments.Experiment`."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _widths(text: str) -> tuple[int, ...]:
    """Parse ``512,256`` into ``(512, 256)``."""
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of widths like 512,256"
        ) from None


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--kernel-size", type=_whole_number, default=3, help="CNN: 1 to 27")
    p.add_argument("--depth", type=_whole_number, default=2, help="CNN: conv blocks, 1 to 4")
    p.add_argument("--stride", type=_whole_number, default=1, help="CNN: convolution stride")
    p.add_argument("--padding", choices=["same", "valid"], default="same", help="CNN padding")
    p.add_argument(
        "--convs-per-block", type=_whole_number, default=1, help="CNN: stacked convolutions, 1-4"
    )
    p.add_argument(
        "--downsample",
        choices=["pool", "stride"],
        default="pool",
        help="CNN: halve each block by 2x2 max-pooling or by a stride-2 convolution",
    )
    p.add_argument(
        "--hidden",
        type=_widths,
        default=None,
        help="dense widths, e.g. 512,256 for the MLP or 256 for the CNN (default: 128,64 / 128)",
    )


def _add_experiment_options(p: argparse.ArgumentParser) -> None:
    _add_model_options(p)
    profiles = ", ".join(f"{p.epochs} {p.name}" for p in settings.PROFILES.values())
    p.add_argument(
        "--epochs",
        type=_whole_number,
        default=None,
        help=f"1 to 10,000 (default: the profile's, FMNIST_EDU_PROFILE: {profiles})",
    )
    p.add_argument("--seed", type=_whole_number, default=0, help="0 to 2**63 - 1 (default: 0)")
    p.add_argument(
        "--batch-size",
        type=_whole_number,
        default=experiments.Experiment.batch_size,
        help=f"images per step (default: {experiments.Experiment.batch_size})",
    )
    p.add_argument(
        "--lr",
        type=_number,
        default=experiments.Experiment.lr,
        help=f"Adam's rate (default: {experiments.Experiment.lr})",
    )
    p.add_argument("--limit", type=_whole_number, default=None, help="train on this many images")
    p.add_argument(
        "--augment",
        choices=list(AUGMENTATIONS),
        default="none",
        help="'shift': move each training image by up to 2 pixels each way",
    )
    p.add_argument(
        "--labels",
        choices=list(experiments.LABELS),
        default="true",
        help="'shuffled': train on training labels permuted by the seed (learns nothing true)",
    )
    p.add_argument(
        "--permute",
        type=_whole_number,
        default=None,
        metavar="SEED",
        help="shuffle the 784 pixels of every image by the permutation this seed draws",
    )
    p.add_argument(
        "--relabel",
        action="store_true",
        help="MLP with --permute: start from the unpermuted run's weights, relabelled",
    )


def _experiment(args: argparse.Namespace) -> experiments.Experiment:
    """The experiment the options describe (the CNN's options are ignored for the MLP)."""
    options = {f: getattr(args, f) for f in experiments.CNN_FIELDS} if args.model == "cnn" else {}
    for name in ("epochs", "seed", "batch_size", "lr", "limit", "augment", "labels", "permute",
                 "relabel"):  # fmt: skip
        if hasattr(args, name):
            options[name] = getattr(args, name)
    return experiments.Experiment(model=args.model, hidden=args.hidden, **options)


def data_download(args: argparse.Namespace) -> None:
    """``data download``: fetch the official release, or check the copy already there."""
    folder = settings.data_dir(args.data_dir)
    mirrors, deadline = settings.mirrors(args.mirror), settings.download_deadline(args.deadline)
    print(download.ensure_release(folder, force=args.force, mirrors=mirrors, deadline=deadline))


def data_info(args: argparse.Namespace) -> None:
    """``data info``: where the data came from, and images per class and split."""
    dataset = data.load(args.data_dir)
    print(f"source: {dataset.source} ({dataset.layout}), fingerprint {dataset.fingerprint}")
    width = max(len(n) for n in data.CLASS_NAMES)
    print(f"{'class':<{width + 4}}{'train':>8}{'test':>8}")
    counts = zip(dataset.train.class_counts(), dataset.test.class_counts(), strict=True)
    for i, (a, b) in enumerate(counts):
        print(f"{i:<3} {data.CLASS_NAMES[i]:<{width}}{a:>8,}{b:>8,}")
    print(f"{'total':<{width + 4}}{len(dataset.train):>8,}{len(dataset.test):>8,}")


def models_summary(args: argparse.Namespace) -> None:
    """``models summary``: the per-layer table of one architecture."""
    print(summary.format_table(summary.summarize(_experiment(args).build())))


def _report(result: experiments.Result) -> None:
    experiment = result.experiment
    where = "from the results store" if result.from_store else f"{result.train_seconds:.1f} s"
    print(
        f"{experiment.label()}: {result.parameters:,} parameters, trained on "
        f"{result.train_images:,} images for {experiment.epochs} epochs ({where})"
    )
    print(f"test accuracy: {result.test.accuracy:.4f} on {result.test_images:,} images")


def _stored_or_trained(
    experiment: experiments.Experiment, dataset: data.FashionMNIST
) -> experiments.Result:
    """Load ``experiment`` from the store, else train it (checking the store first)."""
    store = ResultStore()
    result = experiments.cached(experiment, dataset, store)
    if result is None:
        store.check_writable()  # before training, not after
        print(f"training {experiment.label()} on {settings.default_device()} ...", flush=True)
        result = experiments.run(experiment, dataset, store)
    return result


def train(args: argparse.Namespace) -> None:
    """``train``: train one model, or load it from the results store."""
    dataset = data.load(args.data_dir)
    experiment = _experiment(args)
    _report(_stored_or_trained(experiment, dataset))


def evaluate(args: argparse.Namespace) -> None:
    """``evaluate``: report a model already trained, per class; never trains."""
    dataset = data.load(args.data_dir)
    experiment = _experiment(args)
    result = experiments.cached(experiment, dataset, ResultStore())
    if result is None:
        raise FmnistEduError(
            f"{experiment.label()} (epochs={experiment.epochs}, seed={experiment.seed}) has not "
            "been trained on this data yet; run 'fmnist-edu train' with the same options first"
        )
    _report(result)
    for name, acc in zip(data.CLASS_NAMES, result.test.per_class_accuracy, strict=True):
        print(f"  {name:<12} {acc:.4f}")


def grid_table(args: argparse.Namespace) -> None:
    """``grid``: train (or load) one section's designs over seeds and print its table."""
    from fmnist_edu import design, grid

    default = design.profile_plan()
    plan = design.Plan(
        tuple(args.seeds) if args.seeds else default.seeds,
        args.epochs if args.epochs is not None else default.epochs,
        args.limit,
    )
    designs = plan.designs(args.section)
    runs = plan.experiments([args.section])
    dataset = data.load(args.data_dir)
    limit = f", {plan.limit:,} training images" if plan.limit else ""
    seeds, epochs = len(plan.seeds), plan.epochs
    print(
        f"{args.section}: {len(designs)} designs x {seeds} seed{'s' * (seeds > 1)}, {epochs} "
        f"epoch{'s' * (epochs > 1)}{limit}, {len(runs)} runs",
        flush=True,
    )
    results = grid.run_grid(
        runs, dataset, scheduler=args.scheduler, workers=args.workers, threads=args.threads
    )
    trained = sum(not r.from_store for r in results)
    print(f"{trained} trained now, {len(results) - trained} from the results store")
    rows = design.table(
        args.section, plan, design.Correctness(dict(zip(runs, results, strict=True)), dataset)
    )
    print(design.format_table(rows))
    if args.csv:
        design.write_csv(rows, args.csv)
        print(f"wrote {args.csv}")


def _add_grid_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from fmnist_edu.design import SECTIONS

    p = sub.add_parser(
        "grid", parents=[common], help="a design grid over seeds (in this process or on Dask)"
    )
    p.add_argument("section", choices=list(SECTIONS), help="which design question")
    p.add_argument(
        "--seeds", type=_whole_number, nargs="+", help="default: the profile's (FMNIST_EDU_PROFILE)"
    )
    p.add_argument(
        "--epochs",
        type=_whole_number,
        default=None,
        help="default: the profile's (FMNIST_EDU_PROFILE)",
    )
    p.add_argument("--limit", type=_whole_number, default=None, help="train on this many images")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_whole_number, help="start a local Dask cluster of N")
    where.add_argument(
        "--scheduler",
        help="a Dask scheduler's address, e.g. tcp://HOST:8786 (or FMNIST_EDU_SCHEDULER)",
    )
    p.add_argument("--threads", type=_whole_number, help="torch threads per run on a worker")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    p.set_defaults(func=grid_table)


def package(args: argparse.Namespace) -> None:
    """``package``: write a SageMaker model archive of one model (trained or from the store)."""
    from fmnist_edu.deploy import archive  # the ONNX exporter is slow to import

    experiment = _experiment(args)
    if experiment.permute is not None:
        raise FmnistEduError("--permute: the archive's handler reads images unpermuted")
    dataset = data.load(args.data_dir)
    result = _stored_or_trained(experiment, dataset)
    _report(result)
    path = archive.package(result.model(), args.out, archive.about(result), onnx=not args.no_onnx)
    print(f"wrote {path} ({path.stat().st_size:,} bytes):")
    for member in archive.listing(path):
        print(f"  {member.size:>10,}  {member.name}")


def serve(args: argparse.Namespace) -> None:
    """``serve``: answer SageMaker's ``/ping`` and ``/invocations`` for an archive, until Ctrl-C."""
    try:
        from fmnist_edu.deploy import server
    except ImportError as exc:
        raise optional.missing(exc, "fmnist-edu serve") from None

    def announce(line: str) -> None:
        print(f"{line} (Ctrl-C stops)", flush=True)

    try:
        server.serve(args.archive, args.host, args.port, args.backend, args.threads,
                     args.stop_after, announce, trust_code=args.trust_code)  # fmt: skip
    except KeyboardInterrupt:
        pass
    print("stopped", flush=True)


def _add_deploy_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("package", parents=[common], help="write a SageMaker model archive")
    _add_experiment_options(p)
    p.add_argument("--out", required=True, help="folder for model.tar.gz")
    p.add_argument("--no-onnx", action="store_true", help="leave model.onnx out of the archive")
    p.set_defaults(func=package)
    p = sub.add_parser(
        "serve",
        help="serve a model archive over HTTP, as SageMaker would (runs its code/inference.py)",
        description="Answer GET /ping and POST /invocations for a model archive, as a "
        "SageMaker PyTorch container would. Like SageMaker, it runs the archive's own "
        "code/inference.py, with your rights: it refuses an archive whose code/inference.py "
        "is not this fmnist-edu's handler, byte for byte, unless you pass --trust-code.",
    )
    p.add_argument("archive", help="a model.tar.gz written by 'fmnist-edu package'")
    p.add_argument("--host", default="127.0.0.1", help="address (default: this machine only)")
    p.add_argument("--port", type=_whole_number, default=8080, help="0 picks a free port")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--threads", type=_whole_number, default=1, help="torch/ONNX threads")
    p.add_argument("--stop-after", type=_number, default=None, metavar="SECONDS")
    p.add_argument(
        "--trust-code",
        action="store_true",
        help="run the archive's code/inference.py even if it is not this fmnist-edu's handler",
    )
    p.set_defaults(func=serve)


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
    experiment = _experiment(args)
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
    result = _stored_or_trained(experiment, dataset)
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


def _add_explain_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("explain", parents=[common], help="draw an attribution map of a test image")
    _add_experiment_options(p)
    p.add_argument(
        "--method",
        default="saliency",
        help="saliency, integrated-gradients, smoothgrad, occlusion, grad-cam, guided-backprop "
        "or deeplift (see fmnist_edu.interpret.METHODS)",
    )
    p.add_argument("--index", type=_whole_number, default=0, help="which test image (from 0)")
    p.add_argument(
        "--target", type=_whole_number, default=None, help="class to explain (default: predicted)"
    )
    p.add_argument("--out", default="explanation.png", help="a .png or .svg file to write")
    p.set_defaults(func=explain)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``fmnist-edu`` command."""
    parser = _Parser(prog="fmnist-edu", description=__doc__.splitlines()[0])
    common = _Parser(add_help=False)
    common.add_argument(
        "--data-dir",
        help=f"data folder (default: FMNIST_EDU_DATA, else {settings.data_dir_default()})",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    data_p = sub.add_parser("data", help="fetch or describe the dataset")
    data_sub = data_p.add_subparsers(dest="action", required=True)
    p = data_sub.add_parser("download", parents=[common], help="fetch or check the release")
    p.add_argument("--force", action="store_true", help="replace files that fail their MD5")
    p.add_argument("--mirror", help="URL of a folder serving the .gz files (or FMNIST_EDU_MIRROR)")
    p.add_argument(
        "--deadline", help="seconds per file (or FMNIST_EDU_DOWNLOAD_DEADLINE; default 600)"
    )
    p.set_defaults(func=data_download)
    p = data_sub.add_parser("info", parents=[common], help="split sizes and class counts")
    p.set_defaults(func=data_info)

    models_p = sub.add_parser("models", help="describe the architectures")
    models_sub = models_p.add_subparsers(dest="action", required=True)
    p = models_sub.add_parser("summary", parents=[common], help="per-layer table")
    _add_model_options(p)
    p.set_defaults(func=models_summary)

    for func, text in ((train, "train (or load from the store)"), (evaluate, "evaluate")):
        p = sub.add_parser(func.__name__, parents=[common], help=f"{text} one model")
        _add_experiment_options(p)
        p.set_defaults(func=func)
    _add_grid_parser(sub, common)
    _add_deploy_parsers(sub, common)
    _add_explain_parser(sub, common)
    return parser


def dispatch(args: argparse.Namespace) -> None:
    """Run the subcommand ``args`` describes."""
    args.func(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the command, print one-line errors, return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a usage error already printed (1)
        return exc.code if isinstance(exc.code, int) else 1
    try:
        dispatch(args)
    except FmnistEduError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:  # an optional dependency: name the extra that brings it
        top = (exc.name or "").split(".")[0]
        if top not in optional.EXTRA_OF:
            raise
        print(f"error: {optional.message(top, f'fmnist-edu {args.command}')}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a data folder that cannot be read
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
