"""Snakemake plans what its `cnnlab` commands will do, whatever state the project is in.

Real Snakemake dry runs on a small copy of the project (synthetic offline mirror, scale smoke).
"""

import time

from synthetic import write_mirror
from test_pipeline import environment, job_counts, make_project, run

SEEDS = 2  # scales.smoke.seeds


def test_a_dataset_older_than_the_code_still_gets_the_whole_study_planned(tmp_path):
    """A dataset fetched by hand (no record of Snakemake's) before the code changed: the study is
    planned, not just a fetch (Snakemake's `ancient` input after a job to rerun would mask it)."""
    write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=200, n_test=100)
    project = make_project(tmp_path, ["cnn_mnist"])
    env = environment(tmp_path, project)
    run(["cnnlab", "fetch", "mnist"], project, env)
    time.sleep(0.01)
    for path in (project / "src").rglob("*.py"):
        path.touch()
    planned = run(["snakemake", "-n", "all", "--cores", "1"], project, env)
    assert job_counts(planned) == {"train": SEEDS, "evaluate": SEEDS, "summarize": 1, "plot": 1,
                                   "report": 1, "all": 1}, planned[-3000:]
    assert "Using workflow specific profile workflow/profiles/default" in planned  # read by itself
