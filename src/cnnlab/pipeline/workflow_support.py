"""What the Snakemake workflow (Snakefile, workflow/rules/) asks of cnnlab: the parameters it runs,
the experiments `all` can build, whether jobs get a GPU, the `--set` options for `snakemake
--config`, and from the steps' declaration (cnnlab.pipeline.steps) each rule's command, the code
files of each step (its inputs) and the DVC stage of each job.

Free of torch: every `snakemake` start imports this module, and importing torch takes seconds.
"""

import glob
import json
import os
import shlex
import shutil
import subprocess

from cnnlab.config import STUDY_KEYS, completed, study_experiments
from cnnlab.config.strict_yaml import read_yaml
from cnnlab.config.study import gpu_visible
from cnnlab.errors import CnnlabError
from cnnlab.pipeline.steps import STAGES, STEPS
from cnnlab.results.provenance import entry_files

# torch threads of a train or evaluate job; Snakemake runs as many such jobs at once as --cores allow.
# One thread a job: two one-thread LeNet-5 jobs side by side train 1.40x the images of one two-thread
# job, and a one-thread job beside other work slows in proportion, where a two-thread one collapsed
# 4.5-5.7x (docs/performance.md, "Threads on a shared machine"). `--set-threads train=N` overrides.
JOB_THREADS = 1

# cnnlab reads these from params.yaml alone, never from `snakemake --config`.
FILE_ONLY_KEYS = ("data", "scales", "datasets")

# torchvision's ImageNet ResNet-18 weights in torch's cache (cnnlab.models.transfer; a test checks).
IMAGENET_WEIGHTS = "resnet18-*.pth"

# DVC's stages with outputs, in the pipeline's order (the report's files are not DVC outputs).
PIPELINE_STEPS = [stage.name for stage in STAGES if stage.outs]
# Snakemake's rule -> the DVC stage that runs its command (DVC's `runs` trains and evaluates).
STAGE_OF_RULE = {step.name: stage.name for stage in STAGES for step in stage.steps}


def step_command(step: str) -> str:
    """The `cnnlab` command of `step` as its Snakemake rule runs it: for the job's wildcards."""
    return STEPS[step].command.format(dataset="{wildcards.dataset}", experiment="{wildcards.exp}")


def code_files(step: str) -> list[str]:
    """The code of `step` as files (Snakemake's inputs), each folder replaced by its code files."""
    return [file for path in STEPS[step].code for file in entry_files(path)]


def workflow_params(config: dict, params_file: dict) -> dict:
    """Snakemake's `config` (params.yaml with any `--config` values) checked and completed as cnnlab
    completes params.yaml; `params_file` is params.yaml itself, as cnnlab reads it."""
    params = completed(typed_config(config, params_file), source="params.yaml with snakemake --config")
    for key in FILE_ONLY_KEYS:
        if params.get(key) != params_file.get(key):
            raise CnnlabError(f"--config {key}: edit it in params.yaml; --config reaches cnnlab only for "
                              f"the top-level keys ({', '.join(STUDY_KEYS)}), defaults and experiments")
    return params


def typed_config(config: dict, params_file: dict) -> dict:
    """Snakemake's `config` with each `--config` value (one that differs from params.yaml) typed."""
    return {key: value if value == params_file.get(key) else typed(value) for key, value in config.items()}


def typed(value):
    """A `--config` value with the numbers and booleans inside lists and mappings read as such:
    Snakemake reads `seeds=[0, 1]` as ["0", "1"] (YAML's BaseLoader), cnnlab's `--set` as [0, 1]."""
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, str):
        scalar = read_yaml(value, source="snakemake --config") if value.strip() else value
        return scalar if isinstance(scalar, (bool, int, float)) else value
    return value


def set_options(params: dict, params_file: dict, experiment: str) -> str:
    """` --set KEY=VALUE` options for what `params` changes from `params_file` in `experiment`.

    Empty when nothing changed, so that the command is the very one that dvc.yaml runs.
    """
    return "".join(f" --set {shlex.quote(text)}" for text in overrides(params, params_file, experiment))


def overrides(params: dict, params_file: dict, experiment: str) -> list[str]:
    """`KEY=VALUE` for each key that `params` changes from `params_file` in `experiment`: the --set
    values that the rules pass to cnnlab, and with which they work out each job as cnnlab will."""
    wanted, on_disk = cnnlab_keys(params, experiment), cnnlab_keys(params_file, experiment)
    return [f"{key}={value if isinstance(value, str) else json.dumps(value)}"  # JSON is YAML
            for key, value in wanted.items() if on_disk.get(key) != value]


def cnnlab_keys(params: dict, experiment: str) -> dict:
    """The keys `cnnlab --set` takes, with their values in `params` for `experiment`."""
    keys = {key: params.get(key) for key in STUDY_KEYS}
    keys.update(params["experiments"][experiment])  # the experiment's own seeds beat the study's
    return keys


def torch_home() -> str:
    """torch.hub's folder, found as torch finds it, without importing torch."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    return os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))


def imagenet_weights_cached() -> bool:
    """torch's cache holds the ImageNet ResNet-18 weights."""
    return bool(glob.glob(os.path.join(torch_home(), "hub", "checkpoints", IMAGENET_WEIGHTS)))


def buildable_study(params: dict) -> tuple[list[str], list[str]]:
    """The experiments that `all` builds, and those it leaves out.

    The study's experiments (`datasets`), less those that fine-tune pretrained weights while the
    weights are not in torch's cache: only the internet has them, and a missing download would
    fail the study hours in. `snakemake --cores 1 results/EXP/metrics.json` runs one anyway.
    """
    chosen = study_experiments(params)
    if imagenet_weights_cached():
        return chosen, []
    left_out = [name for name in chosen if params["experiments"][name]["pretrained"]]
    return [name for name in chosen if name not in left_out], left_out


def slurm_offers_gpus() -> bool:
    """The SLURM cluster that `sinfo` reaches has nodes with GPUs (generic resource `gpu`): jobs
    sent there with `--executor slurm` can have one, although this login machine has none."""
    if shutil.which("sinfo") is None:
        return False
    try:
        listed = subprocess.run(["sinfo", "--noheader", "--format", "%G"], capture_output=True,
                                text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return any(gres.startswith("gpu") for gres in listed.stdout.replace(",", " ").split())


def gpus_per_job(device: str) -> int:
    """The resource `gpu` that train and evaluate jobs ask for: 1 where they would run on one."""
    if device == "cuda":
        return 1
    return int(device == "auto" and (gpu_visible() or slurm_offers_gpus()))


def dvc_stage(rule: str, wildcards: dict) -> str:
    """The dvc.yaml stage that runs the same command as the Snakemake job (same names, same keys)."""
    if rule == "fetch":
        return f"fetch@{wildcards['dataset']}"
    if "exp" in wildcards:
        return f"{STAGE_OF_RULE[rule]}@{wildcards['exp']}"
    return rule
