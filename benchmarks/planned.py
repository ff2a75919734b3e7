"""The full profile's runs per chapter, listed from the package calls the chapters make.

A cold full-profile build is the workload's source (:mod:`workload`); on a busy machine it
may not reach every chapter in the time at hand. This module lists, for each chapter that
trains, the experiments its code cells ask for (the same package calls, with the full
profile's seeds and epochs), so that :func:`complete` can add the runs of the chapters a
partial build has not reached, and name the page of runs it was executing. Each run
belongs to the first chapter, in the build's order, that asks for it: the results store
trains it once. The source of every run is kept (``"store"`` or ``"plan"``).
"""

from __future__ import annotations

import dataclasses
import json

import workload

from fmnist_edu import analysis, design, inductive, models, seed_study
from fmnist_edu.beyond import permuted
from fmnist_edu.experiments import Experiment
from fmnist_edu.settings import PROFILES

FULL = PROFILES["full"]
#: The order in which the build executes the chapters that train (alphabetical).
ORDER = ("architectures", "deployment", "design_choices", "inductive_bias",
         "interpretability", "when_not_cnn")  # fmt: skip


def _seeds(*experiments: Experiment) -> list[Experiment]:
    return [dataclasses.replace(e, seed=s) for e in experiments for s in FULL.seeds]


def chapter_plans(available: int) -> dict[str, list[Experiment]]:
    """Each training chapter's experiments under the full profile, in the build's order.

    ``available`` is the number of training images of a whole run on the data built on.
    """
    e = FULL.epochs
    mlp, cnn = Experiment(model="mlp", epochs=e), Experiment(model="cnn", epochs=e)
    width = analysis.matched_mlp_hidden(models.count_parameters(models.CNN()))
    wide = Experiment(model="mlp", epochs=e, hidden=width)
    shift = [dataclasses.replace(x, augment="shift") for x in (mlp, cnn)]
    sizes = [x for m in ("mlp", "cnn") for x in inductive.sample_efficiency_experiments(
        m, available, e)]  # fmt: skip
    plan = design.Plan(FULL.seeds, e)
    return {
        "architectures": _seeds(mlp, wide, cnn),
        "deployment": [dataclasses.replace(cnn, seed=0)],
        "design_choices": plan.experiments(design.SECTIONS) + plan.runs(seed_study.MLP),
        "inductive_bias": _seeds(mlp, cnn, *shift, *sizes),
        "interpretability": _seeds(cnn, mlp, dataclasses.replace(cnn, labels="shuffled")),
        "when_not_cnn": _seeds(*permuted.chapter_experiments(FULL).values()),
    }


def same_run(config: dict) -> str:
    """A run's identity up to ``validate``, which changes no weight (nor, much, the cost)."""
    return json.dumps({k: v for k, v in config.items() if k != "validate"}, sort_keys=True)


def complete(runs: list[workload.Run]) -> list[workload.Run]:
    """The stored runs (a run of an unfinished page named by the plans) and the planned runs
    of the chapters the build did not reach, each with its ``source``."""
    available = max(r.train_images for r in runs if not r.config.get("limit"))
    plans = chapter_plans(available)
    owner: dict[str, str] = {}
    for chapter in ORDER:
        for experiment in plans[chapter]:
            owner.setdefault(same_run(experiment.config()), chapter)
    out = []
    for r in runs:
        chapter = r.chapter if r.chapter != "?" else owner.get(same_run(r.config), "?")
        out.append(dataclasses.replace(r, chapter=chapter, source="store"))
    stored = {same_run(r.config) for r in runs}
    reached = {r.chapter for r in out}
    test = runs[0].test_images
    val = runs[0].val_images
    for identity, chapter in owner.items():
        if identity in stored or chapter in reached - {out[-1].chapter}:
            continue  # trained, or its (finished) chapter did not ask for it after all
        config = json.loads(identity) | {"validate": _validate(plans[chapter], identity)}
        if config["validate"] == "epoch":
            config.pop("validate")  # as Experiment.config leaves out the default
        images = config.get("limit") or available
        validated = {"epoch": config["epochs"], "last": 1}.get(config.get("validate", "epoch"), 0)
        out.append(workload.Run(key="planned", config=config, train_images=images,
                                val_images=val, test_images=test, epochs=config["epochs"],
                                validated_epochs=validated, wall_seconds=0.0, cpu_seconds=None,
                                written=0.0, chapter=chapter, source="plan"))  # fmt: skip
    return out


def _validate(experiments: list[Experiment], identity: str) -> str:
    return next(x.validate for x in experiments if same_run(x.config()) == identity)
