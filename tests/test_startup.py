"""A Snakemake job's fixed cost: each `cnnlab` command imports only the libraries its work needs.

Importing torch, torchvision, pandas, scipy.stats or seaborn takes from half a second to seconds
(docs/performance.md, "Per-job start-up cost"), and a study runs hundreds of jobs. The real command
runs here, in a subprocess on a small synthetic project, under `python -X importtime`, which lists
every module the process imported.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import mnist_project

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "mlp_mnist"
# command line -> (what it must print, the libraries it must not import)
JOBS = {
    "train": (["train", EXPERIMENT, "--seed", "0"], "already trained",
              {"torchvision", "pandas", "scipy", "matplotlib", "seaborn"}),
    "evaluate": (["evaluate", EXPERIMENT, "--seed", "0"], "already evaluated",
                 {"torchvision", "scipy", "matplotlib", "seaborn"}),
    "summarize": (["summarize", EXPERIMENT], "test accuracy",
                  {"torch", "torchvision", "scipy.stats", "matplotlib", "seaborn"}),
    "report": (["report"], "report.html", {"torch", "torchvision"}),
}


def cnnlab(project, *argv, importtime=False) -> subprocess.CompletedProcess:
    options = ["-X", "importtime"] if importtime else []
    done = subprocess.run([sys.executable, *options, "-m", "cnnlab", *argv], cwd=project,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
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
