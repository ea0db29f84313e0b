"""Sharing a study through a DVC remote, and Snakemake and DVC following each other.

The project copy, its synthetic data and its study are those of tests/test_pipeline.py; the remote
is a real local-folder DVC remote, as a shared folder on a course's machines would be.
"""

import json
import os
import time

import pytest

from cnnlab.pipeline.freshness import (
    date_in_order,
    drop_empty_folders,
    drop_stale_mark,
    drop_stale_records,
    recipe_text,
    write_recipe,
)
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


def test_recipe_file_changes_only_with_the_recipe(tmp_path):
    recipe, record = tmp_path / "recipe.json", tmp_path / "train.json"
    settings = {"lr": 0.01, "epochs": 1, "data": {"root": "data/raw"}}
    write_recipe(recipe, settings, record)
    made = recipe.stat().st_mtime_ns
    assert made > 0 and json.loads(recipe.read_text()) == {"lr": 0.01, "epochs": 1}
    os.utime(recipe, ns=(made - 10**9, made - 10**9))
    write_recipe(recipe, {**settings, "data": {"root": "elsewhere"}}, record)  # data locations: no change
    assert recipe.stat().st_mtime_ns == made - 10**9

    write_recipe(recipe, {**settings, "lr": 0.02}, record)  # no results yet: newer than any
    assert json.loads(recipe.read_text())["lr"] == 0.02 and recipe.stat().st_mtime_ns >= made


def test_recipe_file_of_results_made_elsewhere_is_older_than_they_are(tmp_path):
    """DVC made the results with the new recipe (train.json says so): Snakemake must not redo them."""
    recipe, record = tmp_path / "recipe.json", tmp_path / "train.json"
    write_recipe(recipe, {"lr": 0.01}, record)
    record.write_text(json.dumps({"config": {"lr": 0.02, "data": {"root": "x"}}}))
    write_recipe(recipe, {"lr": 0.02}, record)
    assert recipe.stat().st_mtime == 0 and recipe.read_text() == recipe_text({"lr": 0.02})
    write_recipe(recipe, {"lr": 0.03}, record)  # and a recipe not made yet is newer than its results
    assert recipe.stat().st_mtime > record.stat().st_mtime - 1


def test_date_in_order_dates_each_step_after_the_one_before(tmp_path):
    data, model, metrics = tmp_path / "data", tmp_path / "model.pt", tmp_path / "metrics.json"
    (data / "MNIST").mkdir(parents=True)
    (data / "MNIST" / "images").write_bytes(b"x")
    model.write_bytes(b"m")
    metrics.write_text("{}")
    os.utime(metrics, (1000, 1000))  # as git checks it out: older than the model pulled after it
    os.utime(data / "MNIST" / "images", (time.time() + 5,) * 2)  # pulled last
    newest = (data / "MNIST" / "images").stat().st_mtime
    date_in_order([[data], [model, tmp_path / "missing"], [metrics]])
    times = [p.stat().st_mtime for p in (data, data / "MNIST", data / "MNIST" / "images", model, metrics)]
    assert newest < times[0] == times[1] == times[2] < times[3] < times[4]


def test_a_folder_remade_after_snakemake_is_dated_by_itself(tmp_path):
    figures, report = tmp_path / "figures", tmp_path / "report.html"
    figures.mkdir()
    mark = figures / ".snakemake_timestamp"
    mark.write_text("")
    report.write_text("made with the mark")
    os.utime(report, (mark.stat().st_mtime - 1,) * 2)
    drop_stale_mark(figures, report)
    assert mark.exists()  # Snakemake's own run: the mark stays
    os.utime(report, (mark.stat().st_mtime + 1,) * 2)
    drop_stale_mark(figures, report)
    assert not mark.exists()


def test_only_an_empty_dataset_folder_is_dropped(tmp_path):
    """DVC's fetch stage leaves a left-out dataset's folder empty; Snakemake must not take it for
    fetched once the dataset is back. A folder with anything in it, or a file, stays."""
    empty, fetched, file = tmp_path / "cifar10", tmp_path / "mnist", tmp_path / "notes"
    empty.mkdir()
    (fetched / "MNIST").mkdir(parents=True)
    file.write_text("kept")
    drop_empty_folders([empty, fetched, file, tmp_path / "missing"])
    assert not empty.exists() and (fetched / "MNIST").is_dir() and file.read_text() == "kept"


def test_a_record_of_a_file_rewritten_since_is_dropped(tmp_path, monkeypatch):
    """Snakemake's record of how it made a file goes once another tool rewrote the file; the
    record of a file left as Snakemake made it stays."""
    import base64

    monkeypatch.chdir(tmp_path)
    metadata = tmp_path / ".snakemake" / "metadata"
    metadata.mkdir(parents=True)
    records = {}
    for name in ("kept.json", "rewritten.json"):
        path = tmp_path / "results" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("{}")
        key = base64.urlsafe_b64encode(f"results/{name}".encode()).decode()
        records[name] = metadata / key
        records[name].write_text(json.dumps({"endtime": path.stat().st_mtime, "input": ["a"]}))
    for name in ("kept_plots", "rewritten_plots"):  # folders, dated by Snakemake's mark
        folder = tmp_path / "results" / name
        folder.mkdir()
        (folder / "curves.png").write_bytes(b"png")
        (folder / ".snakemake_timestamp").touch()
        key = base64.urlsafe_b64encode(f"results/{name}".encode()).decode()
        records[name] = metadata / key
        records[name].write_text(json.dumps({"endtime": (folder / ".snakemake_timestamp").stat().st_mtime}))
    (metadata / "not-a-record").write_text("x")
    later = (time.time() + 5,) * 2
    os.utime(tmp_path / "results" / "rewritten.json", later)  # DVC remade them
    os.utime(tmp_path / "results" / "rewritten_plots" / "curves.png", later)
    drop_stale_records(metadata)
    assert records["kept.json"].exists() and not records["rewritten.json"].exists()
    assert records["kept_plots"].exists() and not records["rewritten_plots"].exists()
    assert (metadata / "not-a-record").exists()


def test_a_seeds_file_follows_the_seeds_its_summary_was_made_with(tmp_path):
    """summary.json records the seeds it summarizes: the list that made it is no reason to redo it,
    another list is."""
    seeds, summary = tmp_path / "seeds.json", tmp_path / "summary.json"
    summary.write_text(json.dumps({"seeds": [0, 1, 2]}))
    write_recipe(seeds, {"seeds": [0, 1, 2]}, summary, key="seeds")
    assert seeds.stat().st_mtime == 0
    write_recipe(seeds, {"seeds": [0, 1]}, summary, key="seeds")
    assert seeds.stat().st_mtime > summary.stat().st_mtime - 1
