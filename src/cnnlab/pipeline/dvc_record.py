"""After a Snakemake run, dvc.lock records what it made, so that `dvc status` is clean and `dvc repro`
redoes none of it (workflow/rules/dvc.smk calls `record`).

Only the stages that DVC finds changed are touched: those of the jobs Snakemake ran or found
current are committed (DVC hashes their files itself), and those of a dataset the study leaves out,
which Snakemake never plans, are run by DVC: their `--skip-left-out` commands build nothing and
leave their outputs empty (cnnlab.pipeline.left_out), in seconds.
"""

import subprocess
import sys
import time

from cnnlab.config import left_out_datasets
from cnnlab.pipeline.workflow_support import PIPELINE_STEPS


def record(params: dict, done: set[str]) -> None:
    """Bring dvc.lock up to date with the results: `done` are the DVC stages of the jobs that this
    run finished or found current (cnnlab.pipeline.workflow_support.dvc_stage)."""
    from dvc.repo import Repo

    start = time.monotonic()
    with Repo(".") as repo:
        changed = set(repo.status())
    left_out = sorted((stage for stage in changed if dataset_of(stage, params) in left_out_datasets(params)),
                      key=pipeline_order)
    # The left-out stages first: the report's stage depends on all of results/, theirs included.
    dvc("repro", "--single-item", *left_out)
    # --no-relink: leave the files as Snakemake wrote them (a relinked file would be newer than
    # what was made from it).
    committed = sorted(changed & done)
    dvc("commit", "--force", "--no-relink", *committed)
    print(f"dvc.lock: {len(committed)} stage(s) recorded, {len(left_out)} of datasets left out run by DVC "
          f"({time.monotonic() - start:.1f} s)", file=sys.stderr)


def dataset_of(stage: str, params: dict) -> str | None:
    """The dataset of a `fetch@`, `runs@`, `summary@` or `plot@` stage; None for the report's."""
    step, _, item = stage.partition("@")
    if step == "fetch":
        return item
    return params["experiments"][item]["dataset"] if item in params["experiments"] else None


def pipeline_order(stage: str) -> int:
    step = stage.partition("@")[0]
    return PIPELINE_STEPS.index(step) if step in PIPELINE_STEPS else len(PIPELINE_STEPS)


def dvc(command: str, *args: str) -> None:
    """`dvc COMMAND ARGS --quiet`, unless there is no stage to give it; a failure is said in one line."""
    if not any(not arg.startswith("-") for arg in args):
        return
    if subprocess.run([sys.executable, "-m", "dvc", command, *args, "--quiet"]).returncode != 0:
        print(f"Warning: `dvc {command}` failed; dvc.lock does not record all of this run.", file=sys.stderr)
