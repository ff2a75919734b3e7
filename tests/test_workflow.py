"""The GitHub Pages workflow: valid against GitHub's schema; it builds and publishes the book."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
yaml = pytest.importorskip("ruamel.yaml")  # installed with check-jsonschema


def _check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_workflow_validates_and_a_broken_one_does_not(tmp_path):
    assert _check(WORKFLOW).returncode == 0, _check(WORKFLOW).stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    done = _check(broken)
    assert done.returncode == 1 and "runs-on" in done.stdout + done.stderr


def test_the_workflow_builds_the_full_book_on_main_and_deploys_it():
    spec = yaml.YAML(typ="safe").load(WORKFLOW.read_text())
    assert spec["on"]["push"]["branches"] == ["main"]
    build = spec["jobs"]["build"]
    assert build["env"]["FMNIST_EDU_PROFILE"] == "full"
    steps = build["steps"]
    uses = [s.get("uses", "") for s in steps]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "pip install -r requirements.txt" in runs and "jupyter-book build book" in runs
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore@"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    for cache in (restore, save):
        assert "_build/.jupyter_cache" in cache["with"]["path"]
        assert "_build/fmnist_edu_cache" in cache["with"]["path"]
    assert save["if"] == "always()"  # a build that fails or times out still keeps its models
    assert steps.index(restore) < steps.index(save)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(u.startswith("actions/setup-python@") for u in uses)
    deploy = spec["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    assert spec["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}


def test_the_build_timeouts_come_from_the_committed_full_build_estimate():
    import json

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import full_estimate

    estimate = json.loads((ROOT / "benchmarks" / "results" / "full_estimate.json").read_text())
    runner = estimate["book"][f"runner_{estimate['cores']}_cores_s"]
    wanted = full_estimate.workflow_timeouts(runner)
    assert estimate["timeouts_min"] == wanted  # the committed JSON is the code's own output
    build = yaml.YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]["build"]
    step = next(s for s in build["steps"] if "jupyter-book build" in s.get("run", ""))
    assert (step["timeout-minutes"], build["timeout-minutes"]) == (wanted["step"], wanted["job"])
    assert wanted["step"] >= full_estimate.MARGIN * runner / 60 or wanted["capped"]
    assert build["timeout-minutes"] <= full_estimate.JOB_LIMIT_MIN
    config = yaml.YAML(typ="safe").load((ROOT / "_config.yml").read_text())
    assert config["execute"]["timeout"] == 60 * wanted["step"]  # a cell may run as long
    longest = max(c[f"runner_{estimate['cores']}_cores_s"] for c in estimate["chapters"].values())
    assert config["execute"]["timeout"] >= longest  # the costliest chapter fits in one cell
    assert full_estimate.workflow_timeouts(3600) == {"step": 120, "job": 150, "capped": 0}
    assert full_estimate.workflow_timeouts(3 * 3600)["capped"] == 1
