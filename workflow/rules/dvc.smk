"""The bridge to DVC: after a run, dvc.lock records what Snakemake built or found current, so that
`dvc status` agrees (cnnlab.pipeline.dvc_record). The other way, Snakemake reads what DVC made from
the results' own records (cnnlab.pipeline.freshness), with nothing to do here.
"""

import os
import sys

from cnnlab.pipeline.dvc_record import record
from cnnlab.pipeline.workflow_support import dvc_stage


def record_in_dvc():
    """Record in dvc.lock this run's results (not with --config: dvc.lock is params.yaml's)."""
    if not os.path.isdir(".dvc"):
        return
    if PARAMS != PARAMS_FILE:
        print("Note: dvc.lock is left as it was: it records results of params.yaml, and "
              "--config changed the parameters of this run.", file=sys.stderr)
        return
    record(PARAMS, {dvc_stage(job.rule.name, dict(job.wildcards.items())) for job in workflow.dag.jobs
                    if job.rule.name != "all" and workflow.dag.noneedrun_finished(job)})
