"""Snakemake plans what its `cnnlab` commands will do, whatever state the project is in, and DVC
wants the same stages as Snakemake after any change to a key that shapes a run.

Real Snakemake and DVC on a small copy of the project (synthetic offline mirror, scale smoke).
"""

import json
import subprocess
import sys
import time

import pytest
import yaml

from cnnlab import config
from cnnlab.pipeline.workflow_support import dvc_stage
from synthetic import write_mirror
from test_pipeline import (
    SNAKEMAKE_ALL,
    environment,
    init_git_and_dvc,
    job_counts,
    make_project,
    run,
    snakemake_jobs,
)

SEEDS = 2  # scales.smoke.seeds
EXPERIMENT = "cnn_mnist"


def test_a_dataset_older_than_the_code_still_gets_the_whole_study_planned(tmp_path):
    """A dataset fetched by hand (no record of Snakemake's) before the code changed: the study is
    planned, not just a fetch (Snakemake's `ancient` input after a job to rerun would mask it)."""
    write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=200, n_test=100)
    project = make_project(tmp_path, [EXPERIMENT])
    env = environment(tmp_path, project)
    run(["cnnlab", "fetch", "mnist"], project, env)
    time.sleep(0.01)
    for path in (project / "src").rglob("*.py"):
        path.touch()
    planned = run(["snakemake", "-n", "all", "--cores", "1"], project, env)
    assert job_counts(planned) == {"train": SEEDS, "evaluate": SEEDS, "summarize": 1, "plot": 1,
                                   "report": 1, "all": 1}, planned[-3000:]
    assert "Using workflow specific profile workflow/profiles/default" in planned  # read by itself


# A change of each key of params.yaml that the steps' declaration (cnnlab.pipeline.steps) names as
# shaping a run (tests/test_steps.py checks that these are all of them), made so that it changes
# every run's recipe. The study's smoke scale sets no seeds and no val_size here, so that the
# top-level ones count.
RECIPE_CHANGES = {
    "experiments": lambda params: params["experiments"][EXPERIMENT].update(lr=0.05),
    "experiments.${key}": lambda params: params["experiments"][EXPERIMENT].update(batch_size=32),
    "defaults": lambda params: params["defaults"].update(weight_decay=0.0001),
    "seeds": lambda params: params.update(seeds=[0, 1, 2]),
    "device": lambda params: params.update(device="cpu"),
    "precision": lambda params: params.update(precision="bf16"),
    "deterministic": lambda params: params.update(deterministic=False),
    "compile": lambda params: params.update(compile=True),
    "scale": lambda params: params.update(scale="smoke_too"),
    "scales.${scale}": lambda params: params["scales"]["smoke"].update(limit_test=128),
    "data.val_size": lambda params: params["data"].update(val_size=64),
}

# The stages `dvc status` finds changed, and every stage downstream of them: what `dvc repro` runs
# again, as Snakemake plans every job after one it reruns. (DVC's graph leads from a stage to
# those it takes from.)
DVC_WANTED = """
import json, networkx
from dvc.repo import Repo
with Repo(".") as repo:
    changed, graph = repo.status(), repo.index.graph
    wanted = {stage for stage in graph if stage.addressing in changed}
    wanted |= {later for stage in wanted for later in networkx.ancestors(graph, stage)}
    print(json.dumps(sorted(stage.addressing for stage in wanted)))
"""


def wanted_stages(project, env) -> tuple[set[str], set[str]]:
    """The DVC stages of the jobs `snakemake -n all` plans, and those DVC wants to run again."""
    snakemake = {dvc_stage(job["rule"], job["wildcards"]) for job in snakemake_jobs(project, env)
                 if job["rule"] != "all"}
    done = subprocess.run([sys.executable, "-c", DVC_WANTED], cwd=project, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return snakemake, set(json.loads(done.stdout))


@pytest.mark.slow
def test_both_tools_want_the_same_stages_after_a_change_to_any_key_of_a_recipe(tmp_path):
    """A finished study; then each key in turn changed, both tools asked, the key put back. A key
    that Snakemake's recipe takes but no DVC stage tracks (as `compile` was) shows as DVC wanting
    nothing where Snakemake reruns the study."""
    write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=800, n_test=300)
    project = make_project(tmp_path, [EXPERIMENT], datasets=("mnist",))
    params = config.read_params(project / "params.yaml")
    smoke = params["scales"]["smoke"]
    params["seeds"], params["data"]["val_size"] = smoke.pop("seeds"), smoke.pop("val_size")
    params["scales"]["smoke_too"] = dict(smoke)
    catalog = yaml.safe_dump(params, sort_keys=False)
    (project / "params.yaml").write_text(catalog)
    env = environment(tmp_path, project)
    init_git_and_dvc(project, env)
    run(SNAKEMAKE_ALL, project, env)
    run(["dvc", "repro"], project, env)  # the fetch stages of the datasets left out: empty folders
    assert wanted_stages(project, env) == (set(), set())

    disagreements = {}
    for key, change in RECIPE_CHANGES.items():
        changed = config.read_yaml(catalog, "params.yaml")
        change(changed)
        (project / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
        snakemake, dvc = wanted_stages(project, env)
        assert snakemake, f"{key}: Snakemake plans nothing; change it so that it changes the recipe"
        if snakemake != dvc:
            disagreements[key] = {"snakemake": sorted(snakemake - dvc), "dvc": sorted(dvc - snakemake)}
        (project / "params.yaml").write_text(catalog)
    assert disagreements == {}, "the stages only one tool wants, by the key changed"
    assert wanted_stages(project, env) == (set(), set())
