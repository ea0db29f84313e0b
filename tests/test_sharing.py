"""Sharing a study through a DVC remote, and Snakemake and DVC following each other.

The project copy, its synthetic data and its study are those of tests/test_pipeline.py; the remote
is a real local-folder DVC remote, as a shared folder on a course's machines would be.
"""

import json
import time
from pathlib import Path

import pytest

from cnnlab.pipeline.freshness import CURRENT, FOLLOWS, UNKNOWN, Freshness
from test_pipeline import (
    CHANGED,
    KEPT,
    SEEDS,
    SNAKEMAKE_ALL,
    committed_study,
    dvc_changed_by_an_edit_of,
    environment,
    job_counts,
    run,
    set_learning_rate,
    stages_run,
    tree_listing,
)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A git+DVC copy of the project after `snakemake all`, committed."""
    folder = tmp_path_factory.mktemp("sharing")
    project, env, _ = committed_study(folder)
    return folder, project, env


def timed(command: list[str], project, env) -> str:
    start = time.monotonic()
    output = run(command, project, env)
    print(f"$ {' '.join(command)}   # {time.monotonic() - start:.1f} s in {project.name}")
    return output


@pytest.mark.slow
def test_a_fresh_clone_pulls_the_study_and_has_nothing_to_do(study):
    folder, project, env = study
    timed(["dvc", "remote", "add", "--default", "shared", str(folder / "remote")], project, env)
    run(["git", "commit", "-q", "-am", "the class's shared remote"], project, env)
    timed(["dvc", "push"], project, env)

    clone = folder / "clone"
    timed(["git", "clone", "-q", str(project), str(clone)], folder, env)
    env = environment(folder, clone)
    timed(["dvc", "pull"], clone, env)
    models = {e: (clone / "results" / e / "runs/seed0/model.pt").stat().st_mtime_ns for e in KEPT}
    timed(["cnnlab", "report"], clone, env)
    report = "results/report.html"
    assert (clone / report).read_bytes() == (project / report).read_bytes()
    assert {e: (clone / "results" / e / "runs/seed0/model.pt").stat().st_mtime_ns for e in KEPT} == models
    assert json.loads(timed(["dvc", "status", "--json"], clone, env)) == {}
    output = timed([*SNAKEMAKE_ALL, "--dry-run"], clone, env)
    assert job_counts(output) == {} and "Nothing to be done" in output


@pytest.mark.slow
def test_dry_runs_change_no_file(study):
    """`snakemake -n`, `dvc status`, `cnnlab plan` and `cnnlab list` on a project with results and
    Snakemake's records, with a change to plan: every file and folder stays as it was, in bytes and
    time; and Snakemake still plans the change."""
    _, project, env = study
    params = (project / "params.yaml").read_text()
    set_learning_rate(project, CHANGED, 0.03)
    before = tree_listing(project)
    planned = job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env))
    assert planned == {"all": 1, "train": SEEDS, "evaluate": SEEDS, "summarize": 1, "plot": 1, "report": 1}
    for command in (["dvc", "status"], ["cnnlab", "plan", "--no-calibrate"], ["cnnlab", "list"]):
        run(command, project, env)
    assert tree_listing(project) == before
    (project / "params.yaml").write_text(params)


@pytest.mark.slow
def test_snakemake_follows_dvc_and_dvc_follows_snakemake(study):
    _, project, env = study
    set_learning_rate(project, CHANGED, 0.05)
    assert stages_run(run(["dvc", "repro"], project, env)) == dvc_changed_by_an_edit_of(CHANGED) | {"report"}
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}

    set_learning_rate(project, CHANGED, 0.02)
    assert job_counts(run(SNAKEMAKE_ALL, project, env)) == {"all": 1, "train": SEEDS, "evaluate": SEEDS,
                                                           "summarize": 1, "plot": 1, "report": 1}
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    assert stages_run(run(["dvc", "repro"], project, env)) == set()


def judged(records: dict, study=("a",), seeds=(0,), scratch=Path("/nonexistent")) -> Freshness:
    """A Freshness over experiment "a" on mnist whose results say of themselves what `records` says
    ({job: True, False or None}; a job not named: True)."""
    configs = {exp: {"dataset": "mnist", "seeds": list(seeds)} for exp in study}
    freshness = Freshness(configs, "data/raw", list(study), scratch)
    freshness.own_record = lambda job: records.get(job, True)
    return freshness


def test_a_current_job_takes_its_inputs_as_ancient():
    freshness = judged({})
    inputs = freshness.inputs(("summarize", "a"), ["results/a/runs/seed0/metrics.json"])
    assert [file.flags.get("ancient") for file in inputs] == [True]
    assert freshness.dataset_input("a").flags.get("ancient")


def test_an_out_of_date_job_takes_an_input_newer_than_its_results_and_the_jobs_after_it_follow(tmp_path):
    made = tmp_path / "model.pt"
    made.write_bytes(b"m")
    freshness = judged({("train", "a", 0): False}, seeds=(0, 1), scratch=tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    code, newer = freshness.inputs(("train", "a", 0), ["code.py"])
    assert code == "code.py" and Path(newer).stat().st_mtime_ns >= made.stat().st_mtime_ns
    assert Path(newer).parent == tmp_path / "scratch"  # Snakemake's own temporary folder, not the project
    for job in [("evaluate", "a", 0), ("summarize", "a"), ("plot", "a"), ("report",)]:
        assert freshness.state(job) == FOLLOWS  # they run after it: no input of their own to make them
        assert freshness.inputs(job, ["x"]) == ["x"]
    assert freshness.state(("train", "a", 1)) == freshness.state(("evaluate", "a", 1)) == CURRENT


def test_a_job_without_a_record_is_left_to_snakemake_and_so_are_the_jobs_after_it():
    freshness = judged({("plot", "a"): None})
    assert freshness.state(("plot", "a")) == freshness.state(("report",)) == UNKNOWN
    assert freshness.state(("summarize", "a")) == CURRENT
    assert freshness.inputs(("report",), ["x"]) == ["x"]  # plain: Snakemake's times decide


def test_an_empty_dataset_folder_is_fetched_and_the_runs_on_it_follow():
    freshness = judged({("fetch", "mnist"): False})
    assert not getattr(freshness.dataset_input("a"), "flags", {}).get("ancient")
    assert freshness.state(("train", "a", 0)) == FOLLOWS


def test_in_a_jobs_own_process_snakemake_decides():
    freshness = Freshness({"a": {"dataset": "mnist", "seeds": [0]}}, "data/raw", ["a"], Path("/x"),
                          judge=False)
    assert freshness.state(("train", "a", 0)) == UNKNOWN
