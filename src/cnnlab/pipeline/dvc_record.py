"""After a Snakemake run, dvc.lock records what it made, so that `dvc status` is clean and `dvc repro`
redoes none of it (workflow/rules/dvc.smk calls `record`).

Only the stages that DVC finds changed are touched: those of the jobs Snakemake ran or found
current are committed (DVC hashes their files itself), and those of a dataset the study leaves out,
which Snakemake never plans, are run by DVC: their `--skip-left-out` commands build nothing and
leave their outputs empty (cnnlab.pipeline.left_out), in seconds.
"""

import logging
import sys
import time

from cnnlab.config import left_out_datasets
from cnnlab.pipeline.workflow_support import PIPELINE_STEPS


def record(params: dict, done: set[str]) -> None:
    """Bring dvc.lock up to date with the results: `done` are the DVC stages of the jobs that this
    run finished or found current (cnnlab.pipeline.workflow_support.dvc_stage).

    In this one process, as `dvc repro --single-item` and `dvc commit --force --no-relink` would for
    each stage, but dvc.lock is read and written once: DVC's commands read and rewrite the whole file
    for every stage, which at the catalog's size took minutes."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo, lock_repo

    start = time.monotonic()
    logging.getLogger("dvc").setLevel(logging.WARNING)  # as `dvc --quiet`: no line a stage
    recorded = []
    with Repo(".") as repo, lock_repo(repo):
        changed = set(repo.status())
        stages = {stage.addressing: stage for stage in repo.index.stages}
        left_out = sorted((name for name in changed if dataset_of(name, params) in left_out_datasets(params)),
                          key=pipeline_order)
        committed = sorted(changed & done)
        try:
            # The left-out stages first: the report's stage depends on all of results/, theirs included.
            for name in left_out:
                stages[name].run()
                recorded.append(stages[name])
            for name in committed:
                stages[name].save()
                # relink=False: leave the files as Snakemake wrote them (a relinked file would be newer
                # than what was made from it).
                stages[name].commit(relink=False)
                recorded.append(stages[name])
        except DvcException as error:
            print(f"Warning: DVC could not record {name} ({error}); dvc.lock does not record all of this "
                  "run.", file=sys.stderr)
        if recorded:
            recorded[0].dvcfile.dump_stages(recorded, update_pipeline=False)
    ran = len(set(left_out) & {stage.addressing for stage in recorded})
    print(f"dvc.lock: {len(recorded) - ran} stage(s) recorded, {ran} of datasets left out run by DVC "
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
