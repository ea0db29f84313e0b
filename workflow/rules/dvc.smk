"""The bridge to DVC: whichever tool built the results, the other finds them up to date.

After a run, what Snakemake built is recorded in dvc.lock (`dvc commit`); in a fresh copy that
`dvc pull` filled, the results are dated so that Snakemake does not redo them (cnnlab.pipeline.freshness).
"""

import os
import subprocess
import sys
from pathlib import Path

from cnnlab.config import study_datasets
from cnnlab.pipeline.freshness import date_in_order, drop_empty_folders, drop_stale_mark, drop_stale_records
from cnnlab.pipeline.workflow_support import PIPELINE_STEPS, dvc_stage


def date_dvc_results():
    """In a copy where Snakemake has not run yet (a fresh clone after `dvc pull`), date the
    outputs of the stages that DVC finds current, by their content, in the pipeline's order:
    DVC restores files in any order, and Snakemake would redo whatever it finds older than its
    inputs. See cnnlab.pipeline.freshness."""
    metadata = ".snakemake/metadata"  # Snakemake's record of the jobs it ran here
    if not os.path.isfile("dvc.lock") or (os.path.isdir(metadata) and os.listdir(metadata)):
        return
    from dvc.repo import Repo

    with Repo(".") as repo:
        changed = repo.status()
        outputs = {step: [] for step in PIPELINE_STEPS}
        for stage in repo.index.stages:
            step = stage.addressing.split("@")[0]
            if step in outputs and stage.addressing not in changed:
                outputs[step] += [out.fs_path for out in stage.outs]
    date_in_order([[Path(path) for path in paths] for paths in outputs.values()])


if workflow.is_main_process:  # not again in each job
    date_dvc_results()
    drop_empty_folders([Path(DATA_ROOT) / dataset for dataset in study_datasets(PARAMS)])
    drop_stale_records(Path(".snakemake/metadata"))
    # `cnnlab report` in DVC's report stage rewrites results/figures/ without Snakemake's mark.
    drop_stale_mark(Path("results/figures"), Path("results/report.html"))


def record_in_dvc():
    """Record in dvc.lock what this run built or found up to date, so that `dvc status` agrees
    and `dvc repro` redoes none of it. DVC hashes the files itself."""
    if not os.path.isdir(".dvc"):
        return
    if PARAMS != PARAMS_FILE:
        print("Note: dvc.lock is left as it was: it records results of params.yaml, and "
              "--config changed the parameters of this run.", file=sys.stderr)
        return
    stages = sorted({dvc_stage(job.rule.name, dict(job.wildcards.items())) for job in workflow.dag.jobs
                     if job.rule.name != "all" and workflow.dag.noneedrun_finished(job)})
    if stages:
        # --no-relink: leave the files as Snakemake wrote them. Relinked from the cache they
        # would be newer than what was made from them, and Snakemake would redo those jobs.
        command = [sys.executable, "-m", "dvc", "commit", "--force", "--no-relink", "--quiet", *stages]
        if subprocess.run(command).returncode != 0:
            print("Warning: `dvc commit` failed; dvc.lock does not record this run.", file=sys.stderr)
