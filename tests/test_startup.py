"""A Snakemake job's fixed cost: each `cnnlab` command imports only the libraries its work needs.

Importing torch, torchvision, pandas, scipy.stats or seaborn takes from half a second to seconds
(docs/performance.md, "Per-job start-up cost"), and a study runs hundreds of jobs. The real command
runs here, in a subprocess on a small synthetic project, under `python -X importtime`, which lists
every module the process imported.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.data.catalog import PROVENANCE_FILE, dataset_dir
from cnnlab.io import held_folder
from cnnlab.results import layout
from synthetic import mnist_project

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "mlp_mnist"
# command line -> (what it must print, the libraries it must not import). A kept run is recognised
# without torch (issue 14); evaluate's check reads history.csv with pandas, as the evaluation does.
JOBS = {
    "train": (["train", EXPERIMENT, "--seed", "0"], "already trained",
              {"torch", "torchvision", "pandas", "scipy", "matplotlib", "seaborn"}),
    "train all seeds": (["train", EXPERIMENT], "already trained",
                        {"torch", "torchvision", "pandas", "scipy", "matplotlib", "seaborn"}),
    "evaluate": (["evaluate", EXPERIMENT, "--seed", "0"], "already evaluated",
                 {"torch", "torchvision", "scipy", "matplotlib", "seaborn"}),
    "evaluate all seeds": (["evaluate", EXPERIMENT], "already evaluated",
                           {"torch", "torchvision", "scipy", "matplotlib", "seaborn"}),
    "summarize": (["summarize", EXPERIMENT], "test accuracy",
                  {"torch", "torchvision", "scipy.stats", "matplotlib", "seaborn"}),
    "report": (["report"], "report.html", {"torch", "torchvision"}),
}


def cnnlab(project, *argv, importtime=False, returncode=0) -> subprocess.CompletedProcess:
    options = ["-X", "importtime"] if importtime else []
    done = subprocess.run([sys.executable, *options, "-m", "cnnlab", *argv], cwd=project,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == returncode, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project whose experiment is trained, evaluated, summarized and reported: every job current."""
    folder = mnist_project(tmp_path_factory.mktemp("project"), n_train=300, n_test=100, val_size=50,
                           scale="smoke", datasets=["mnist"])
    shutil.copy(REPO / "references.yaml", folder)  # `cnnlab report` reads it from the project's top
    for argv in (["train", EXPERIMENT], ["evaluate", EXPERIMENT], ["summarize", EXPERIMENT], ["report"]):
        cnnlab(folder, *argv)
    return folder


def imported_modules(importtime_output: str) -> set[str]:
    """The modules named in `python -X importtime`'s lines ("import time: self | cumulative | name")."""
    return {line.rpartition("|")[2].strip() for line in importtime_output.splitlines()
            if line.startswith("import time:")}


@pytest.mark.parametrize("job", JOBS)
def test_a_job_imports_only_what_its_work_needs(project, job):
    argv, says, not_needed = JOBS[job]
    done = cnnlab(project, *argv, importtime=True)
    assert says in done.stdout
    imported = imported_modules(done.stderr)
    assert "cnnlab.cli" in imported  # the importtime listing is there
    # a package counts as imported with any of its modules (scipy.stats's own line is not listed)
    assert sorted(package for package in not_needed
                  if any(module == package or module.startswith(f"{package}.") for module in imported)) == []


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def refusal(project, *argv) -> str:
    """The one line `cnnlab: error: ...` of a refused command (exit 2), which imported no torch."""
    done = cnnlab(project, *argv, importtime=True, returncode=2)
    errors = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert len(errors) == 1 and errors[0].startswith("cnnlab: error: "), errors
    assert "torch" not in imported_modules(done.stderr)
    return errors[0]


def test_a_kept_run_is_refused_where_work_would_be(project):
    """Recognised without torch, a current run still meets the checks that training or evaluating it
    would meet: a folder that another command holds is refused, and `train` refuses a dataset that
    is no longer fetched; in one line each, changing nothing."""
    results = project / layout.RESULTS
    folder = layout.run_folder(layout.experiment_folder(EXPERIMENT), 0)  # as the command names it
    before = snapshot(results)
    with held_folder(project / folder):
        for command in ("train", "evaluate"):
            assert f"{folder} is in use by process {os.getpid()}" in refusal(project, command, EXPERIMENT)
    provenance = dataset_dir("mnist", project / "raw") / PROVENANCE_FILE
    provenance.rename(provenance.with_name("moved.json"))
    try:
        assert "mnist has not been fetched" in refusal(project, "train", EXPERIMENT, "--seed", "0")
    finally:
        provenance.with_name("moved.json").rename(provenance)
    assert snapshot(results) == before
