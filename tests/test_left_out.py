"""`--skip-left-out` (dvc.yaml's commands): a dataset that `datasets` leaves out of the study is
neither fetched nor trained on, nothing already made is lost, and each DVC stage finds the outputs
it declares (cnnlab.pipeline.left_out). The end-to-end run with DVC and Snakemake is in test_pipeline.py.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from cnnlab import config
from cnnlab.analysis.summary import SEEDS_COLUMNS
from cnnlab.results import layout
from synthetic import mnist_project
from test_startup import imported_modules, snapshot

TRAINED = "mlp_mnist"  # trained and evaluated before mnist is left out
UNTRAINED = "cnn_mnist"
WHY = "mnist is left out of the study (left out by `datasets` in params.yaml; name it there to run it)"


def cnnlab(project, *argv, returncode=0) -> tuple[str, set[str]]:
    """`cnnlab --params left_out.yaml ARGV --skip-left-out` (mnist left out); its output, with the
    modules it imported (or, for a refused command, its error lines)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "cnnlab", "--params", "left_out.yaml",
                           *argv, "--skip-left-out"], cwd=project, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))
    assert done.returncode == returncode, done.stderr[-3000:]
    if returncode:
        return done.stdout, [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    return done.stdout, imported_modules(done.stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """mlp_mnist trained and evaluated in a study of mnist; left_out.yaml: the same, mnist left out."""
    folder = mnist_project(tmp_path_factory.mktemp("project"), n_train=300, n_test=100, val_size=50,
                           scale="smoke", datasets=["mnist"])
    for command in ("train", "evaluate"):
        subprocess.run([sys.executable, "-m", "cnnlab", command, TRAINED], cwd=folder, check=True,
                       capture_output=True)
    params = config.read_params(folder / "params.yaml")
    params["datasets"] = ["fashion_mnist"]
    (folder / "left_out.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def test_nothing_is_fetched_trained_or_evaluated_and_nothing_made_is_lost(project):
    before = snapshot(project / "raw") | snapshot(project / layout.RESULTS)
    for command, done in [("train", "trained"), ("evaluate", "evaluated")]:
        for experiment in (TRAINED, UNTRAINED):
            printed, imported = cnnlab(project, command, experiment)
            assert printed == f"{experiment}: {WHY}; not {done} (--skip-left-out)\n"
            assert "torch" not in imported
    printed, _ = cnnlab(project, "fetch", "mnist", "--root", "raw")
    assert printed == f"{WHY}; not fetched (--skip-left-out)\n"
    assert snapshot(project / "raw") | snapshot(project / layout.RESULTS) == before
    # the stages' outputs are there for DVC: an empty folder where there was none
    assert [*(project / layout.RESULTS / UNTRAINED / layout.RUNS).iterdir()] == []
    cnnlab(project, "fetch", "mnist", "--root", "elsewhere")
    assert [*(project / "elsewhere" / "mnist").iterdir()] == []


def test_an_evaluated_experiment_is_still_summarized_and_plotted(project):
    printed, _ = cnnlab(project, "summarize", TRAINED)
    assert "test accuracy" in printed
    summary = json.loads((project / layout.RESULTS / TRAINED / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and "left_out" not in summary
    cnnlab(project, "plot", TRAINED)
    assert any((project / layout.RESULTS / TRAINED / layout.PLOTS).glob("*.png"))


def test_an_experiment_without_runs_gets_empty_summary_files_and_no_plots(project):
    folder = project / layout.RESULTS / UNTRAINED
    printed, _ = cnnlab(project, "summarize", UNTRAINED)
    assert printed == f"{UNTRAINED}: {WHY}; not summarized (--skip-left-out)\n"
    assert json.loads((folder / "summary.json").read_text()) == {"experiment": UNTRAINED, "seeds": [], "n": 0,
                                                                   "left_out": WHY}
    assert (folder / "seeds.csv").read_text() == ",".join(SEEDS_COLUMNS) + "\n"
    for file in ("curves.csv", "per_class.csv", "confusion.csv"):
        assert len((folder / file).read_text().splitlines()) == 1  # the columns' names alone
    cnnlab(project, "plot", UNTRAINED)
    assert [*(folder / layout.PLOTS).iterdir()] == []


def test_a_name_that_is_no_dataset_or_experiment_is_refused_and_nothing_made(project):
    before = sorted(path.name for path in project.rglob("*"))
    for command, name, says in [("fetch", "cifar100", "unknown dataset 'cifar100'"),
                                ("train", "cnn_mnst", "unknown experiment 'cnn_mnst'")]:
        _, errors = cnnlab(project, command, name, returncode=2)
        assert len(errors) == 1 and errors[0].startswith("cnnlab: error: ") and says in errors[0], errors
    assert sorted(path.name for path in project.rglob("*")) == before
