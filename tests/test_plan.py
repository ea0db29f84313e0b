"""`cnnlab plan` through the real CLI on a small copy of the project (synthetic offline mirror).

The copy keeps one MNIST and one CIFAR-10 experiment plus E8 (which `all` leaves out without its
ImageNet weights); its mirror has MNIST only, so CIFAR-10 can come only from the internet.
Calibration runs for a fraction of a second per setup (--calibration-seconds).
"""

import hashlib
import json
import re
import subprocess

import pytest
import yaml

from cnnlab import config
from refusals import read_only_folder
from synthetic import write_mirror
from test_pipeline import environment, make_project

KEPT = ["cnn_mnist", "convnet_cifar10", "resnet18_transfer_cifar10"]
QUICK = ["--calibration-seconds", "0.2"]

pytestmark = pytest.mark.slow


def cnnlab(project, env, *args, code=0):
    done = subprocess.run(["cnnlab", *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == code, done.stdout + done.stderr
    return done


def row(output: str, experiment: str) -> list[str]:
    """The table's row of `experiment`, split into its columns (status and time may be 2 words)."""
    line = next(line for line in output.splitlines() if line.startswith(experiment + " "))
    return re.split(r"\s{2,}", line.strip())


def snapshot(folder) -> dict:
    """Every file under `folder` with the SHA-256 of its content."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    write_mirror(folder / "mirror", datasets=("mnist",), n_train=300, n_test=100)
    project = make_project(folder, KEPT)
    return project, environment(folder, project)


@pytest.fixture(scope="module")
def first_plan(project):
    project, env = project
    return cnnlab(project, env, "plan", *QUICK, "--budget", "0.0001")


def test_plan_measures_every_job_and_says_where_the_data_comes_from(project, first_plan):
    out, err = first_plan.stdout, first_plan.stderr
    for experiment in KEPT:  # calibrated, in a child process each
        assert f"calibrating {experiment} ..." in err
    cnn = row(out, "cnn_mnist")
    assert cnn[:4] == ["cnn_mnist", "0", "1", "512"]  # scale smoke: 1 epoch on 512 images
    assert re.search(r"^cnn_mnist +1 +1 +512 ", out, re.M)  # and a job for seed 1
    assert cnn[5:7] == ["cpu fp32", "to run"] and re.fullmatch(r"\d+ s", cnn[7])
    assert float(cnn[8].replace(",", "")) > 100  # peak MB of a process holding torch
    assert "! over budget" in out and "what to do: run it on a GPU" in out
    assert re.search(r"^over the budget of 0.0001 h a job: cnn_mnist \(\d+ s\) x 2 seeds, ", out, re.M)
    e8 = row(out, "resnet18_transfer_cifar10")
    assert e8[6] == "not in `all`" and e8[7].startswith("(")  # its whole run, in brackets
    assert "not in `all`: resnet18_transfer_cifar10 (2 seeds) (needs ImageNet weights" in out
    assert re.search(r"mnist +offline mirror .*mirror/mnist", out)
    cifar10 = next(line for line in out.splitlines() if line.strip().startswith("cifar10 "))
    # offline (as where this suite is run) it cannot be had; with internet it would be downloaded
    assert "cannot be had" in cifar10 or "the internet (https://www.cs.toronto.edu" in cifar10
    if "cannot be had" in cifar10:
        assert "its 2 experiment(s) would fail" in out
    assert "status: Snakemake's view" in out and "3 setup(s) measured now" in out


def test_second_plan_reads_the_cache(project, first_plan):
    project, env = project
    again = cnnlab(project, env, "plan", *QUICK, "--budget", "0.0001")
    assert "calibrating" not in again.stderr
    # two seeds a setup at smoke scale: 6 jobs of 3 setups
    assert "0 setup(s) measured now, 6 job(s) from .cnnlab/calibration.json" in again.stdout
    counts = ("3 setup(s) measured now, 3 job(s)", "0 setup(s) measured now, 6 job(s)")
    assert again.stdout == first_plan.stdout.replace(*counts)
    # `make study`'s start: the same without the table of jobs
    totals = cnnlab(project, env, "plan", *QUICK, "--budget", "0.0001", "--totals").stdout
    assert totals.startswith("total to run: ") and totals in again.stdout
    quick = cnnlab(project, env, "plan", "--no-calibrate")  # another calibration length: not measured
    assert row(quick.stdout, "cnn_mnist")[7:] == ["-", "-"] and "not measured" in quick.stdout


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "argument --budget: '0' is not a number > 0"),
    (["--budget", "nan"], "argument --budget: 'nan' is not a number > 0"),
    (["--calibration-seconds", "-1"], "argument --calibration-seconds: '-1' is not a number > 0"),
    (["--threads", "0"], "argument --threads: '0' is not a thread count"),
    (["--set", "lr=-1"], "experiments.cnn_mnist.lr: -1 is out of range"),
    (["--set", "nonsense=1"], "unknown key 'nonsense'"),
])
def test_bad_input_is_one_line_and_changes_nothing(project, first_plan, args, message):
    project, env = project
    before = snapshot(project)
    done = cnnlab(project, env, "plan", *QUICK, *args, code=2)
    assert done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith("cnnlab: error: ") and message in done.stderr
    assert snapshot(project) == before


def test_a_damaged_cache_is_measured_again(project, first_plan):
    project, env = project
    cache = project / ".cnnlab" / "calibration.json"
    entries = json.loads(cache.read_text())
    key = next(iter(entries))
    entries[key]["train_ips"] = "fast"
    cache.write_text(json.dumps(entries))
    again = cnnlab(project, env, "plan", *QUICK)
    assert again.stderr.count("calibrating") == 1 and "1 setup(s) measured now" in again.stdout
    cache.write_text("{not json")
    assert "6 not measured" in cnnlab(project, env, "plan", *QUICK, "--no-calibrate").stdout


def test_a_long_experiment_name_keeps_the_columns_in_line(tmp_path):
    """The experiment column is as wide as the longest name: each row's cells start (left-aligned
    columns) or end (right-aligned ones) where the header's do."""
    long_name = "lenet5_mnist_normalize_imagenet"  # 31 characters
    write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=300, n_test=100)
    project = make_project(tmp_path, ["lenet5_mnist", long_name])
    output = cnnlab(project, environment(tmp_path, project), "plan", "--no-calibrate").stdout
    lines = output.splitlines()
    header = lines[0]
    rows = [line for line in lines if line.startswith(("lenet5_mnist ", long_name + " "))]
    assert header.startswith("experiment ") and len(rows) == 4  # two experiments, two seeds each
    cells = re.compile(r"\S+(?: \S+)*")  # a cell: words one space apart; columns: two or more spaces
    header_spans = [(cell.start(), cell.end()) for cell in cells.finditer(header)]
    for line in rows:
        spans = [(cell.start(), cell.end()) for cell in cells.finditer(line)]
        assert len(spans) == len(header_spans), line
        assert all(start == header_start or end == header_end
                   for (start, end), (header_start, header_end) in zip(spans, header_spans)), (header, line)


def test_status_is_what_snakemake_would_run(tmp_path):
    write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=300, n_test=100)
    project = make_project(tmp_path, ["cnn_mnist"])
    env = environment(tmp_path, project)
    plan = ["plan", "--no-calibrate"]
    assert row(cnnlab(project, env, *plan).stdout, "cnn_mnist")[6] == "to run"
    done = subprocess.run(["snakemake", "all", "--cores", "2"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert row(cnnlab(project, env, *plan).stdout, "cnn_mnist")[6] == "up to date"
    params = config.read_params(project / "params.yaml")
    params["experiments"]["cnn_mnist"]["lr"] = 0.05
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert row(cnnlab(project, env, *plan).stdout, "cnn_mnist")[6] == "to run"


def test_an_unwritable_calibration_cache_is_refused_before_any_measuring(project, tmp_path):
    project, env = project
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "params.yaml").write_bytes((project / "params.yaml").read_bytes())
    with read_only_folder(copy / ".cnnlab"):
        done = cnnlab(copy, env, "plan", *QUICK, code=2)
    assert "calibrating" not in done.stderr
    assert done.stderr.startswith(f"cnnlab: error: {copy / '.cnnlab'}: cannot keep the measurements there")
    assert len(done.stderr.splitlines()) == 1, done.stderr
