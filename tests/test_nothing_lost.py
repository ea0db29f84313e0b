"""A refused or failed command loses nothing, touches nothing outside what it owns, and writes
nothing before every check has passed: a diverging run, a cleanup beside a link, a summary
pointed at another experiment's folder, a report with one destination read-only. What a user can
cause gets one line `cnnlab: error: ...` naming the file and the fix, exit 2: hand-edited records,
a history without numbers, a model.pt that is a device, a confusion table missing a class, a model
that does not fit its dataset.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cnnlab import config
from cnnlab.training.train import STAGING, train
from refusals import REPO, assert_refused, cnnlab, read_only_folder, results_copy, snapshot, trained_project

EXPERIMENT = "mlp_mnist"
DIVERGE = ("--set", "optimizer=sgd", "--set", "lr=1e6", "--set", "momentum=0")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project(tmp_path_factory.mktemp("project"), EXPERIMENT)


@pytest.fixture
def results(project, tmp_path) -> Path:
    return results_copy(project, tmp_path, EXPERIMENT)


def test_a_diverging_run_leaves_the_finished_run_it_would_replace(project, results):
    before = snapshot(results)
    assert len(before) > 8
    result = cnnlab(project, "train", EXPERIMENT, "--out", str(results), *DIVERGE)
    assert_refused(result, "the loss became nan", "lower the learning rate")
    assert snapshot(results) == before
    assert not (results / "runs/seed0" / STAGING).exists()


def test_a_diverging_run_into_a_new_folder_leaves_no_empty_folders(project, tmp_path):
    result = cnnlab(project, "train", EXPERIMENT, "--out", str(tmp_path / "new/exp"), *DIVERGE)
    assert_refused(result, "the loss became nan")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_keeps_the_earlier_run_until_it_is_resumed_to_its_end(project, results):
    params = config.load_params(project / "params.yaml")
    cfg = config.run_config(config.experiment_config(params, EXPERIMENT, ["epochs=2"]), 0)
    folder = results / "runs/seed0"
    before = snapshot(results)

    def interrupt(epoch):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, folder, on_epoch_end=interrupt)
    assert {k: v for k, v in snapshot(results).items() if STAGING not in k} == before
    assert (folder / STAGING / "last.pt").is_file()  # what --resume continues

    train(cfg, folder, resume=True)
    assert not (folder / STAGING).exists()
    # the new run replaced the earlier one, whose evaluation no longer applies
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "last.pt", "model.pt", "train.json"]
    assert "epochs" in (folder / "train.json").read_text()


def test_a_link_to_a_staging_folder_is_removed_not_followed(project, results, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (results / "runs/seed0" / STAGING).symlink_to(outside)
    result = cnnlab(project, "train", EXPERIMENT, "--out", str(results), *DIVERGE)
    assert_refused(result, "the loss became nan")
    assert (outside / "keep.txt").read_text() == "mine"


def test_cleanup_never_follows_a_link_out_of_the_study(project, results, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".keep.tmp-x.txt").write_text("not the study's")
    (results.parent / "figures").symlink_to(elsewhere)
    result = cnnlab(project, "report", "--results", str(results.parent), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert (elsewhere / ".keep.tmp-x.txt").read_text() == "not the study's"


def test_report_checks_every_destination_before_writing_any(project, results):
    study = results.parent
    before = snapshot(study)
    with read_only_folder(study / "figures"):
        result = cnnlab(project, "report", "--results", str(study), cwd=REPO)
        assert_refused(result, str(study / "figures"))
    assert snapshot(study) == before
    assert sorted(p.name for p in study.iterdir()) == ["figures", EXPERIMENT]


def test_a_left_out_summary_is_refused_in_another_experiments_folder(project, results):
    before = snapshot(results)
    result = cnnlab(project, "summarize", "vgg_cifar10", "--skip-left-out", "--out", str(results))
    assert_refused(result, f"{results} holds the results of experiment {EXPERIMENT}, not vgg_cifar10")
    assert snapshot(results) == before
    (results / "summary.json").unlink()  # the runs still say whose folder it is
    result = cnnlab(project, "summarize", "vgg_cifar10", "--skip-left-out", "--out", str(results))
    assert_refused(result, f"holds the results of experiment {EXPERIMENT}")


# ----------------------------------------------------------------------------- one line, exit 2

RUN = "runs/seed0"


def edit_json(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("file, key, value", [("metrics.json", "test_acc", "abc"),
                                              ("train.json", "wall_seconds", "x"),
                                              ("metrics.json", "val_acc", [1])])
def test_a_hand_edited_record_is_refused_by_summarize_and_report(project, results, file, key, value):
    edit_json(results / RUN / file, **{key: value})
    before = snapshot(results.parent)
    assert_refused(cnnlab(project, "summarize", EXPERIMENT, "--out", str(results)),
                   str(results / RUN / file), f"{key} must be a number", "cnnlab train")
    assert_refused(cnnlab(project, "report", "--results", str(results.parent), cwd=REPO),
                   str(results / RUN / file))
    assert snapshot(results.parent) == before


@pytest.mark.parametrize("command", ["plot", "evaluate"])
def test_a_history_without_test_accuracies_is_refused(project, results, command):
    history = results / RUN / "history.csv"
    table = pd.read_csv(history)
    table["test_acc"] = float("nan")
    table.to_csv(history, index=False)
    before = snapshot(results)
    assert_refused(cnnlab(project, command, EXPERIMENT, "--out", str(results)),
                   str(history), "test_acc")
    assert snapshot(results) == before


def test_a_model_pt_that_is_a_device_is_refused_without_reading_it(project, results):
    model = results / RUN / "model.pt"
    model.unlink()
    model.symlink_to("/dev/zero")
    result = subprocess.run(["timeout", "60", sys.executable, "-m", "cnnlab", "--params",
                             str(project / "params.yaml"), "evaluate", EXPERIMENT, "--out", str(results)],
                            capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"),
                                                                 "PATH": "/usr/bin:/bin"})
    assert_refused(result, str(model), "no regular file")


def test_a_confusion_table_missing_a_class_is_refused_by_summarize(project, results):
    confusion = results / RUN / "confusion.csv"
    pd.read_csv(confusion).drop(columns="7").to_csv(confusion, index=False)
    before = snapshot(results)
    assert_refused(cnnlab(project, "summarize", EXPERIMENT, "--out", str(results)),
                   str(confusion), "one column for each class")
    assert snapshot(results) == before


def test_a_variant_whose_model_does_not_fit_its_dataset_is_refused_by_both_drivers(project, tmp_path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["experiments"]["lenet5_cifar10"] = {"base": "lenet5_mnist", "dataset": "cifar10"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    words = ("experiments.lenet5_cifar10: model lenet5 takes 1-channel images but cifar10 has 3",
             "resnet18")
    for command in (["list"], ["plan", "--no-calibrate"]):
        assert_refused(cnnlab(tmp_path, *command, cwd=tmp_path), *words)
    for path in ("workflow",):
        (tmp_path / path).symlink_to(REPO / path)
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert_refused(dry, *words)  # as cnnlab refuses it: one line, exit 2
    assert dry.stdout == ""
