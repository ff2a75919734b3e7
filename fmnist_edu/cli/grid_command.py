"""``grid``: one design section over seeds, in this process or on Dask."""

from __future__ import annotations

import argparse

from fmnist_edu import data
from fmnist_edu.cli import options


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


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from fmnist_edu.design import SECTIONS

    p = sub.add_parser(
        "grid", parents=[common], help="a design grid over seeds (in this process or on Dask)"
    )
    p.add_argument("section", choices=list(SECTIONS), help="which design question")
    p.add_argument(
        "--seeds",
        type=options.whole_number,
        nargs="+",
        help="default: the profile's (FMNIST_EDU_PROFILE)",
    )
    p.add_argument(
        "--epochs",
        type=options.whole_number,
        default=None,
        help="default: the profile's (FMNIST_EDU_PROFILE)",
    )
    p.add_argument(
        "--limit", type=options.whole_number, default=None, help="train on this many images"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=options.whole_number, help="start a local Dask cluster of N"
    )
    where.add_argument(
        "--scheduler",
        help="a Dask scheduler's address, e.g. tcp://HOST:8786 (or FMNIST_EDU_SCHEDULER)",
    )
    p.add_argument("--threads", type=options.whole_number, help="torch threads per run on a worker")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    p.set_defaults(func=grid_table)
