"""What the rules share: the parameters, read and checked once, and what reaches cnnlab."""

import sys
from pathlib import Path

from snakemake.utils import validate

from cnnlab.config import completed, experiment_config, left_out_datasets, read_params, run_config
from cnnlab.errors import CnnlabError
from cnnlab.results.layout import RUN
from cnnlab.pipeline.freshness import Freshness
from cnnlab.pipeline.workflow_support import (
    JOB_THREADS,
    buildable_study,
    code_files,
    gpus_per_job,
    overrides,
    set_options,
    step_command,
    typed_config,
    workflow_params,
)


def checked(function, *args, **kwargs):
    """function(*args, **kwargs); a problem cnnlab finds stops Snakemake as it stops the `cnnlab`
    command: its one line on stderr and exit code 2 (a WorkflowError would add Snakemake's file,
    line and stack frames to it)."""
    try:
        return function(*args, **kwargs)
    except CnnlabError as err:
        print(f"cnnlab: error: {err}", file=sys.stderr)
        sys.exit(2)


# cnnlab's strict reader reads params.yaml first (duplicate keys, aliases, nesting, size), so that
# Snakemake's own parse below only ever sees a file that cnnlab accepts.
PARAMS_AS_WRITTEN = checked(read_params, "params.yaml")


configfile: "params.yaml"


# Checked once: what cnnlab itself reads in every job (params.yaml, each experiment completed with
# `defaults`), and what this run asks for (the same, unless `--config` changed something).
PARAMS_FILE = checked(completed, PARAMS_AS_WRITTEN, source="params.yaml")
PARAMS = PARAMS_FILE if config == PARAMS_AS_WRITTEN else checked(workflow_params, config, PARAMS_FILE)
# Snakemake's own check, of its config as cnnlab reads it (`--config seeds=[0]`: numbers, not text)
validate(typed_config(config, PARAMS_AS_WRITTEN), "../schemas/params.schema.yaml", set_default=False)

EXPERIMENTS = list(PARAMS["experiments"])
DATA_ROOT = PARAMS["data"]["root"]
DATASETS = sorted({spec["dataset"] for spec in PARAMS["experiments"].values()})


wildcard_constraints:
    # the schema's pattern of a name, not the list of names: a regex of thousands of names made
    # matching each file to its rule slow (an unknown name is refused as params.yaml is read)
    exp="[a-z][a-z0-9_]*",
    dataset="|".join(DATASETS),
    seed=r"\d+",


def job_config(exp):
    """`exp`'s settings as its `cnnlab` commands will have them: params.yaml and the --set values
    that carry `--config` (which beat the scale's, as on the command line)."""
    return checked(experiment_config, PARAMS_FILE, exp, overrides(PARAMS, PARAMS_FILE, exp))


JOB_CONFIGS = {exp: job_config(exp) for exp in EXPERIMENTS}
# Each experiment's seeds: one train and one evaluate job a seed.
SEEDS = {exp: cfg["seeds"] for exp, cfg in JOB_CONFIGS.items()}


RUN_FOLDER = f"results/{{exp}}/{RUN}"  # a run's folder (cnnlab.results.layout), {exp} and {seed} wildcards


def run_file(name):
    """`name` (model.pt, metrics.json, ...) in the folder of a run: an output pattern."""
    return f"{RUN_FOLDER}/{name}"


def run_files(exp, name):
    """`name` of each of `exp`'s runs."""
    return [run_file(name).format(exp=exp, seed=seed) for seed in SEEDS[exp]]


def cnnlab_options(exp):
    """The `--set` options that carry `snakemake --config` values to cnnlab (none without it)."""
    return set_options(PARAMS, PARAMS_FILE, exp)


# `all` and the report cover the experiments of `datasets`, less those whose pretrained weights
# only the internet has (see cnnlab.pipeline.workflow_support.buildable_study).
STUDY, NEEDS_WEIGHTS = buildable_study(PARAMS)
LEFT_OUT = checked(left_out_datasets, PARAMS)
# Whether each job's results are current, read from what they record (cnnlab.pipeline.freshness);
# in a job's own process (a cluster node), Snakemake's times alone.
FRESHNESS = Freshness(JOB_CONFIGS, DATA_ROOT, STUDY, Path(workflow.snakemake_tmp_dir),
                      judge=workflow.is_main_process)
if LEFT_OUT and workflow.is_main_process:  # said once, at the start (the report lists it too)
    print("Note: left out of the study: " + "; ".join(f"{name} ({why})" for name, why in LEFT_OUT.items()),
          file=sys.stderr)
if NEEDS_WEIGHTS:
    print(f"Note: `all` leaves out {', '.join(NEEDS_WEIGHTS)}: its pretrained ImageNet weights "
          "are not in torchvision's cache ($TORCH_HOME/hub/checkpoints/).", file=sys.stderr)

# The standard resource `gpu` on jobs that run on the device, so Snakemake (and SLURM, as --gpus)
# can share GPUs out.
GPUS = gpus_per_job(PARAMS["device"])
