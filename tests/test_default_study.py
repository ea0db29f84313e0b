"""`make study` as a new user runs it: `datasets: auto` on this machine (no GPU; offline, with an
offline mirror of MNIST and Fashion-MNIST and no CIFAR-10) runs what fits, says at its start what it
leaves out and why, and ends with both reports, which list it too; DVC then agrees the study is
built. Real Snakemake and DVC on a small copy of the project (synthetic data)."""

import json

import pytest

from cnnlab.config.study import gpu_visible
from synthetic import write_mirror
from test_pipeline import (
    KEPT,
    SNAKEMAKE_ALL,
    environment,
    init_git_and_dvc,
    job_counts,
    make_project,
    run,
    stages_run,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
NO_GPU = "cifar10 (no GPU here, and its experiments take days on a CPU"


@pytest.mark.skipif(gpu_visible(), reason="on a machine with a GPU, `auto` takes CIFAR-10")
def test_the_default_study_runs_what_fits_here_and_reports_what_it_left_out(tmp_path):
    write_mirror(tmp_path / "mirror", datasets=("mnist", "fashion_mnist"), n_train=600, n_test=200)
    project = make_project(tmp_path, KEPT, datasets="auto")
    env = environment(tmp_path, project)
    init_git_and_dvc(project, env)

    output = run(SNAKEMAKE_ALL, project, env)
    assert f"Note: left out of the study: {NO_GPU}" in output.split("Job stats")[0]  # said at the start
    assert job_counts(output)["train"] == 4 and "fetch@cifar10" not in output
    for report in ("report.html", "report.md"):
        text = (project / "results" / report).read_text()
        assert "Left out of the study: convnet_cifar10 (cifar10: no GPU here" in text, report
    assert "convnet_cifar10" not in (project / "results" / "summary.csv").read_text()

    # DVC means the same by `auto`: after Snakemake's run it finds the study up to date, the empty
    # stages of what is left out included (Snakemake had DVC run them, cnnlab.pipeline.dvc_record)
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    # in one line, none a stage: fetch@cifar10 and convnet_cifar10's runs, summary and plot
    assert ", 4 of datasets left out run by DVC (" in output and "lock file" not in output
    assert stages_run(run(["dvc", "repro"], project, env)) == set()
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}
    listed = run(["cnnlab", "list"], project, env)
    row = next(line for line in listed.splitlines() if line.startswith("convnet_cifar10"))
    assert row.endswith("(left out)")
    assert "left out: cifar10: no GPU here" in listed
