"""``package`` and ``serve``: a SageMaker model archive, and serving it locally."""

from __future__ import annotations

import argparse

from fmnist_edu import data, optional
from fmnist_edu.cli import options
from fmnist_edu.errors import FmnistEduError


def package(args: argparse.Namespace) -> None:
    """``package``: write a SageMaker model archive of one model (trained or from the store)."""
    from fmnist_edu.deploy import archive  # the ONNX exporter is slow to import

    experiment = options.experiment(args)
    if experiment.permute is not None:
        raise FmnistEduError("--permute: the archive's handler reads images unpermuted")
    dataset = data.load(args.data_dir)
    result = options.stored_or_trained(experiment, dataset)
    options.report(result)
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


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("package", parents=[common], help="write a SageMaker model archive")
    options.add_experiment_options(p)
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
    p.add_argument("--port", type=options.whole_number, default=8080, help="0 picks a free port")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--threads", type=options.whole_number, default=1, help="torch/ONNX threads")
    p.add_argument("--stop-after", type=options.number, default=None, metavar="SECONDS")
    p.add_argument(
        "--trust-code",
        action="store_true",
        help="run the archive's code/inference.py even if it is not this fmnist-edu's handler",
    )
    p.set_defaults(func=serve)
