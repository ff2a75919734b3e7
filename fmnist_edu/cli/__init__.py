"""The ``fmnist-edu`` command (also ``python -m fmnist_edu``).

Every subcommand takes ``--data-dir`` and is one function, registered with its parser
through ``set_defaults(func=...)``: ``data``, ``models``, ``train`` and ``evaluate`` in
:mod:`~fmnist_edu.cli.core`, ``grid`` in :mod:`~fmnist_edu.cli.grid_command`, ``package``
and ``serve`` in :mod:`~fmnist_edu.cli.deploy_commands`, ``explain`` in
:mod:`~fmnist_edu.cli.explain_command`; the options they share, and the one way they
train or load a model, in :mod:`~fmnist_edu.cli.options`.

A user mistake (a missing folder, a corrupt file, a bad option or an out-of-range value)
prints one line, ``error: ...``, and exits with 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fmnist_edu import optional, settings
from fmnist_edu.cli import core, deploy_commands, explain_command, grid_command, options
from fmnist_edu.errors import FmnistEduError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit with 1, like the rest."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(1, f"error: {message} (see '{self.prog} --help')\n")


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
    p.set_defaults(func=core.data_download)
    p = data_sub.add_parser("info", parents=[common], help="split sizes and class counts")
    p.set_defaults(func=core.data_info)

    models_p = sub.add_parser("models", help="describe the architectures")
    models_sub = models_p.add_subparsers(dest="action", required=True)
    p = models_sub.add_parser("summary", parents=[common], help="per-layer table")
    options.add_model_options(p)
    p.set_defaults(func=core.models_summary)

    for func, text in ((core.train, "train (or load from the store)"), (core.evaluate, "evaluate")):
        p = sub.add_parser(func.__name__, parents=[common], help=f"{text} one model")
        options.add_experiment_options(p)
        p.set_defaults(func=func)
    grid_command.add_parser(sub, common)
    deploy_commands.add_parsers(sub, common)
    explain_command.add_parser(sub, common)
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
