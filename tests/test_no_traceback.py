"""What a user can cause gets one line `cnnlab: error: ...` naming the file and the fix, exit 2, and
changes nothing: hand-edited records, a history without numbers, a model.pt that is a device, a
confusion table missing a class, a model that does not fit its dataset."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from refusals import REPO, assert_refused, cnnlab, snapshot
from test_nothing_lost import EXPERIMENT, project, results  # noqa: F401  (fixtures)

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
    for path in ("Snakefile", "workflow"):
        (tmp_path / path).symlink_to(REPO / path)
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert_refused(dry, *words)  # as cnnlab refuses it: one line, exit 2
    assert dry.stdout == ""
