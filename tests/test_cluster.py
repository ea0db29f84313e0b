"""The study on a real SLURM cluster: Snakemake's SLURM executor plugin and workflow/profiles/slurm.

The cluster is Debian's SLURM with accounting (slurmdbd, MariaDB), started on this machine for
these tests (tests/slurm_cluster.py); its one node has a GPU that is only a name, so that `--gpus`
is allocated and accounted for without a real one. The project copy and its synthetic data are
those of tests/test_pipeline.py.
"""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from cnnlab import config
from slurm_cluster import missing_programs, slurm_cluster
from synthetic import write_mirror
from test_pipeline import environment, job_counts, make_project, run

if os.geteuid() != 0:
    pytest.skip("the test SLURM cluster runs its daemons as root; run these tests as root (CI does)",
                allow_module_level=True)
if missing_programs():
    pytest.fail(f"SLURM's test cluster needs {', '.join(missing_programs())}: "
                "apt-get install slurm-wlm slurmdbd munge mariadb-server (.ci/run does)", pytrace=False)

pytestmark = pytest.mark.slow

EXPERIMENT = "cnn_mnist"
RUN = f"results/{EXPERIMENT}/runs/seed0"  # its one run (scales.smoke.seeds: [0], to keep it short)
RESULTS = ["metrics.json", "predictions.csv"]
# One torch thread, as in the local run (results depend on it), and quick status checks.
SLURM_ALL = ["snakemake", "all", "--executor", "slurm", "--workflow-profile", "workflow/profiles/slurm",
             "--set-threads", "train=1", "evaluate=1", "--slurm-init-seconds-before-status-checks", "1",
             "--seconds-between-status-checks", "1"]
# The results to compare, made here with the local executor.
LOCAL = ["snakemake", f"{RUN}/predictions.csv", "--cores", "1"]
ON_GPU = {"train", "evaluate"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


@pytest.fixture(scope="module")
def project(tmp_path_factory, cluster):
    """A copy of the project with one MNIST experiment at scale=smoke, and its environment."""
    folder = tmp_path_factory.mktemp("cluster")
    write_mirror(folder / "mirror", datasets=("mnist",), n_train=600, n_test=200)
    project = make_project(folder, [EXPERIMENT])
    params = config.read_params(project / "params.yaml")
    params["datasets"] = ["mnist"]
    params["scales"]["smoke"]["seeds"] = [0]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project, environment(folder, project) | {"SLURM_CONF": cluster["SLURM_CONF"]}


def sacct_jobs(env: dict) -> dict[str, dict]:
    """Every job SLURM's accounting knows: {job id: {field: value}}."""
    fields = ["JobID", "State", "Comment", "AllocCPUS", "ReqMem", "Timelimit", "AllocTRES"]
    listing = subprocess.run(["sacct", "--allusers", "--allocations", "--noheader", "--parsable2",
                              "--format", ",".join(fields)], env=env, capture_output=True, text=True,
                             check=True).stdout
    return {line.split("|")[0]: dict(zip(fields, line.split("|"))) for line in listing.splitlines()}


def test_study_runs_through_sbatch_and_matches_a_local_run(project):
    project, env = project
    run(LOCAL, project, env)
    local = {name: (project / RUN / name).read_bytes() for name in RESULTS}
    shutil.rmtree(project / "results")  # the data stay: fetches are not the cluster's

    output = run(SLURM_ALL, project, env)
    assert job_counts(output) == {"all": 1, "train": 1, "evaluate": 1, "summarize": 1, "plot": 1, "report": 1}
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))
    assert len(submitted) == 5  # every job but `all` went through sbatch

    accounted = sacct_jobs(env)
    print("sacct:\n" + "\n".join("|".join(job.values()) for job in accounted.values()))
    for slurm_id in submitted.values():
        job = accounted[slurm_id]
        rule = re.fullmatch(r"rule_(\w+?)(?:_wildcards_\w+)?", job["Comment"])[1]
        assert job["State"] == "COMPLETED", job
        assert job["AllocCPUS"] == "1"  # the job's threads
        assert job["ReqMem"] == {"train": "6000M", "evaluate": "4000M"}.get(rule, "2000M"), job
        assert job["Timelimit"] == {"train": "1-00:00:00", "evaluate": "01:00:00"}.get(rule, "00:30:00")
        assert ("gres/gpu=1" in job["AllocTRES"]) == (rule in ON_GPU), job
    comments = sorted(accounted[i]["Comment"] for i in submitted.values())
    assert [re.sub(f"_wildcards_{EXPERIMENT}.*", "", c) for c in comments] == [
        "rule_evaluate", "rule_plot", "rule_report", "rule_summarize", "rule_train"], comments

    for name, content in local.items():
        assert (project / RUN / name).read_bytes() == content, name
    assert (project / "results" / "report.html").is_file()
    assert job_counts(run([*SLURM_ALL, "--dry-run"], project, env)) == {}


@pytest.mark.parametrize(("device", "gpus"), [("auto", 1), ("cuda", 1), ("cpu", 0)])
def test_device_decides_whether_cluster_jobs_ask_for_a_gpu(project, device, gpus):
    """`device: auto` asks SLURM for a GPU when the cluster has some (this one has one), and
    `device: cpu` never does; plot and report never hold one."""
    project, env = project
    output = run([*SLURM_ALL, "--dry-run", "--forceall", "--config", f"device={device}"], project, env)
    resources = dict(re.findall(r"^(?:local)?rule (\w+):\n(?:\s+\w+:.*\n)*?\s+resources: (.*)", output,
                                re.MULTILINE))
    asked = {rule: int(re.search(r"\bgpu=(\d+)", resources[rule])[1]) if "gpu=" in resources[rule] else 0
             for rule in ("fetch", "train", "evaluate", "summarize", "plot", "report")}
    assert asked == {rule: gpus if rule in ON_GPU else 0 for rule in asked}
