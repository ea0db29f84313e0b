"""What the rules share: the checked catalog, what reaches cnnlab, and the link to DVC."""

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from snakemake.utils import validate

from cnnlab.config import STUDY_KEYS, experiment_config, study_experiments
from cnnlab.config import validate as cnnlab_validate
from cnnlab.freshness import date_in_order, drop_stale_mark

# Check the catalog before any job starts. The Snakefile has read params.yaml with cnnlab's reader
# (PARAMS_FILE); here cnnlab checks `config`, the file with any --config values, for its one-line
# message naming the key and what is allowed; Snakemake's check follows, against the same schema.
checked(cnnlab_validate, config, source="params.yaml with snakemake --config")
validate(config, "../schemas/params.schema.yaml", set_default=False)
for key in ("data", "scales", "datasets"):  # cnnlab reads these from params.yaml alone
    if config.get(key) != PARAMS_FILE.get(key):
        raise ValueError(f"{key}: edit it in params.yaml; --config reaches cnnlab only for "
                         f"the top-level keys ({', '.join(STUDY_KEYS)}) and experiments")

EXPERIMENTS = list(config["experiments"])
DATA_ROOT = config["data"]["root"]
DATASETS = sorted({spec["dataset"] for spec in config["experiments"].values()})


wildcard_constraints:
    exp="|".join(EXPERIMENTS),
    dataset="|".join(DATASETS),


def fetched(exp):
    """The folder of `exp`'s dataset, as `cnnlab fetch` leaves it (data.root/<dataset>)."""
    return f"{DATA_ROOT}/{config['experiments'][exp]['dataset']}"


def recipe(exp):
    """Everything that decides `exp`'s results: its jobs rerun when this changes.

    Sorted, so that reordering params.yaml changes nothing; without the data locations, which
    do not change results (as in cnnlab.train.same_recipe).
    """
    settings = checked(experiment_config, config, exp)
    del settings["data"]
    return dict(sorted(settings.items()))


RECIPES = {exp: recipe(exp) for exp in EXPERIMENTS}  # also checks --config values, at parse time


def cnnlab_keys(params, exp):
    """The keys `cnnlab --set` takes, with their values in `params` for experiment `exp`."""
    keys = {key: params.get(key) for key in STUDY_KEYS}
    keys.update(params["experiments"][exp])  # the experiment's own seed beats the study's
    return keys


def set_options(exp):
    """` --set KEY=VALUE` options for what `snakemake --config` changed from params.yaml.

    None without --config, so that the command is the very one that dvc.yaml runs.
    """
    wanted, on_disk = cnnlab_keys(config, exp), cnnlab_keys(PARAMS_FILE, exp)
    options = ""
    for key, value in wanted.items():
        if on_disk.get(key) != value:
            text = value if isinstance(value, str) else json.dumps(value)  # JSON is YAML
            options += f" --set {shlex.quote(f'{key}={text}')}"
    return options


def imagenet_weights_cached():
    """torchvision's cache holds the ImageNet ResNet-18 weights (torch.hub.get_dir(), read
    without importing torch, which takes seconds)."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    torch_home = os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))
    return bool(glob.glob(os.path.join(torch_home, "hub", "checkpoints", "resnet18-*.pth")))


# `all` and the report cover the experiments of the datasets in `datasets`. E8 fine-tunes ImageNet
# weights that only the internet has: `all` leaves such experiments out until the weights are in
# torchvision's cache; `snakemake --cores 1 results/EXP/metrics.json` runs one anyway (and
# downloads the weights, where there is internet).
CHOSEN = study_experiments(config)
NEEDS_WEIGHTS = [exp for exp in CHOSEN if config["experiments"][exp]["pretrained"]]
STUDY = [exp for exp in CHOSEN if exp not in NEEDS_WEIGHTS or imagenet_weights_cached()]
if len(STUDY) < len(CHOSEN):
    print(f"Note: `all` leaves out {', '.join(NEEDS_WEIGHTS)}: its pretrained ImageNet weights "
          "are not in torchvision's cache ($TORCH_HOME/hub/checkpoints/).", file=sys.stderr)


def gpu_visible():
    """A cheap stand-in for torch.cuda.is_available() (importing torch here would take seconds)."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    return shutil.which("nvidia-smi") is not None and not hidden


def slurm_offers_gpus():
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


# The standard resource `gpu` on jobs that run on the device, so Snakemake (and SLURM, as --gpus)
# can share GPUs out.
GPUS = 1 if config["device"] == "cuda" or (
    config["device"] == "auto" and (gpu_visible() or slurm_offers_gpus())) else 0


def dvc_stage(job):
    """The dvc.yaml stage that runs the same command as `job` (same names, same keys)."""
    if job.rule.name == "fetch":
        return f"fetch@{job.wildcards.dataset}"
    if "exp" in job.wildcards.keys():
        return f"{job.rule.name}@{job.wildcards.exp}"
    return job.rule.name


# The order of DVC's stages in the pipeline (the report's files are not DVC outputs).
PIPELINE_STEPS = ["fetch", "train", "evaluate", "plot"]


def date_dvc_results():
    """In a copy where Snakemake has not run yet (a fresh clone after `dvc pull`), date the
    outputs of the stages that DVC finds current, by their content, in the pipeline's order:
    DVC restores files in any order, and Snakemake would redo whatever it finds older than its
    inputs. See cnnlab.freshness."""
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
    # `cnnlab report` in DVC's report stage rewrites results/figures/ without Snakemake's mark.
    drop_stale_mark(Path("results/figures"), Path("results/report.html"))


def record_in_dvc():
    """Record in dvc.lock what this run built or found up to date, so that `dvc status` agrees
    and `dvc repro` redoes none of it. DVC hashes the files itself."""
    if not os.path.isdir(".dvc"):
        return
    if config != PARAMS_FILE:
        print("Note: dvc.lock is left as it was: it records results of params.yaml, and "
              "--config changed the parameters of this run.", file=sys.stderr)
        return
    stages = sorted({dvc_stage(job) for job in workflow.dag.jobs
                     if job.rule.name != "all" and workflow.dag.noneedrun_finished(job)})
    if stages:
        # --no-relink: leave the files as Snakemake wrote them. Relinked from the cache they
        # would be newer than what was made from them, and Snakemake would redo those jobs.
        command = [sys.executable, "-m", "dvc", "commit", "--force", "--no-relink", "--quiet", *stages]
        if subprocess.run(command).returncode != 0:
            print("Warning: `dvc commit` failed; dvc.lock does not record this run.", file=sys.stderr)
