"""No collapse under contention: Snakemake's `--cores` bounds the torch threads of a training job,
and train.json records the OpenMP wait policy the job ran with (cnnlab leaves libgomp's default:
PASSIVE halved LeNet-5's speed alone, docs/performance.md). benchmarks/contention.py measures both."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.pipeline.workflow_support import JOB_THREADS
from synthetic import mnist_project, write_mirror
from test_pipeline import environment, make_project, run

REPO = Path(__file__).resolve().parents[1]

# What libgomp (torch's OpenMP on Linux) says it read as it loaded, with OMP_DISPLAY_ENV=VERBOSE:
# its spin count is 0 under PASSIVE, 300000 when nothing is set, 30000000000 under ACTIVE.
SPIN_COUNT = {"PASSIVE": "GOMP_SPINCOUNT = '0'", None: "GOMP_SPINCOUNT = '300000'",
              "ACTIVE": "GOMP_SPINCOUNT = '30000000000'"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return mnist_project(tmp_path_factory.mktemp("project"), n_train=300, n_test=100)


def without_wait_policy() -> dict:
    return {name: value for name, value in os.environ.items() if name != "OMP_WAIT_POLICY"}


def train(project: Path, out: Path, env: dict) -> tuple[dict, str]:
    """`cnnlab train` with 2 threads as a job runs it; returns train.json and what libgomp printed."""
    done = subprocess.run([sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml"),
                           "train", "mlp_mnist", "--set", "scale=smoke", "--set", "seeds=[0]",
                           "--out", str(out), "--threads", "2"],
                          cwd=project, capture_output=True, text=True,
                          env={**env, "OMP_DISPLAY_ENV": "VERBOSE"})
    assert done.returncode == 0, done.stderr
    return json.loads((out / "runs/seed0/train.json").read_text()), done.stderr


@pytest.mark.parametrize("policy", [None, "PASSIVE", "ACTIVE"])
def test_train_json_records_the_wait_policy_libgomp_ran_with(project, tmp_path, policy):
    """libgomp itself reports the policy it read as torch loaded it; train.json records the same."""
    env = without_wait_policy() if policy is None else {**without_wait_policy(), "OMP_WAIT_POLICY": policy}
    record, openmp = train(project, tmp_path / str(policy), env)
    assert SPIN_COUNT[policy] in openmp
    assert record["machine"]["omp_wait_policy"] == policy and record["threads"] == 2


@pytest.mark.slow
def test_snakemake_cores_bound_a_training_jobs_torch_threads(tmp_path):
    """A job's torch threads are Snakemake's `threads` (train.json's `threads` is
    torch.get_num_threads() as it trained): one by default (JOB_THREADS), and a thread count asked
    for with --set-threads is lowered to --cores."""
    write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=600, n_test=200)
    project = make_project(tmp_path, ["mlp_mnist"])
    env = environment(tmp_path, project)
    for options, seed, threads in ((["--cores", "2"], 0, JOB_THREADS),
                                   (["--cores", "2", "--set-threads", "train=4"], 1, 2)):
        record_file = f"results/mlp_mnist/runs/seed{seed}/train.json"
        run(["snakemake", record_file, *options], project, env)  # target first: --set-threads takes a list
        assert json.loads((project / record_file).read_text())["threads"] == threads


@pytest.mark.slow
def test_contention_benchmark_gives_each_training_its_policy_and_threads(project, tmp_path):
    """benchmarks/contention.py, briefly: every training process starts with its policy in its
    environment (none for `unset`, even if the benchmark's own has one) and its torch threads."""
    out = tmp_path / "contention.json"
    benchmark = REPO / "benchmarks" / "contention.py"
    done = subprocess.run([sys.executable, str(benchmark), "--root", str(project / "raw"),
                           "--set", "data.val_size=100", "--scenarios", "alone", "pair", "--seconds", "0.2",
                           "--repeats", "1", "--chunk-steps", "2", "--json", str(out)],
                          capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": "ACTIVE"})
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    seen = {(run["policy"], run["scenario"], run["threads"], report["policy"]["OMP_WAIT_POLICY"],
             report["torch_threads"])
            for run in result["runs"] for repeat in run["reports"] for report in repeat}
    assert seen == {(policy, scenario, threads, value, threads)
                    for policy, value in (("unset", None), ("OMP_WAIT_POLICY=PASSIVE", "PASSIVE"))
                    for scenario, threads in (("alone", 2), ("alone", 1), ("two 1-thread trainings", 1))}
    for row in result["rows"]:
        assert row["images_per_sec"] > 0 and row["busy_threads"] <= row["threads"]
    assert "| two 1-thread trainings | 1 | OMP_WAIT_POLICY=PASSIVE |" in done.stdout
