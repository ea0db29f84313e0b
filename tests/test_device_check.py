"""benchmarks/device_check.py, the one-call check for a lent GPU: what a CPU can check of it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import write_mirror

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import device_check  # noqa: E402


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory) -> Path:
    """A folder of the four MNIST IDX files, as ../shared/datasets/mnist is (synthetic here)."""
    mirror = write_mirror(tmp_path_factory.mktemp("mirror"), datasets=("mnist",), n_train=700, n_test=200)
    return mirror / "mnist"


def test_the_check_runs_on_the_cpu_at_the_quick_size_and_writes_its_json_and_table(mnist_files, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(REPO / "benchmarks" / "device_check.py"), "--mnist", str(mnist_files),
               "--out", str(out), "--experiments", "lenet5_mnist", "convnet_cifar10", "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["device-check.json", "device-check.md"]
    result = json.loads((out / "device-check.json").read_text())
    assert result["quick"] is True and result["machine"]["device"] == "cpu"  # no CUDA: the CPU, tiny
    assert result["models"] == {"lenet5": "lenet5_mnist", "convnet": "convnet_cifar10"}
    assert {(r["experiment"], r["precision"]) for r in result["rates"]} == {
        (e, p) for e in ("lenet5_mnist", "convnet_cifar10") for p in ("fp32", "bf16")}
    for rate in result["rates"]:
        assert rate["train_images_per_sec"] > 0 and rate["eval_images_per_sec"] > 0
        assert rate["peak_memory_mb"] > 0 and rate["data"] == "files"  # MNIST's files, CIFAR-10's made
    assert [r["precision"] for r in result["parity"]] == ["fp32", "bf16"]
    assert all(0 <= r["test_acc"] <= 1 for r in result["parity"])
    # deterministic mode on the CPU: the two runs are the same bytes, fp32 and bf16
    assert [(d["experiment"], d["identical"]) for d in result["determinism"]] == [
        ("lenet5_mnist", True), ("convnet_cifar10", True)]
    estimates = {r["experiment"]: r for r in result["estimates"]["experiments"]}
    assert result["estimates"]["of"] == len(estimates) > 30  # every experiment of the study
    assert estimates["convnet_cifar10"]["bf16_seconds"] > 0
    assert estimates["vgg_cifar10"]["fp32_seconds"] is None  # not measured
    assert result["estimates"]["totals"]["bf16"]["estimated"] == 2
    table = (out / "device-check.md").read_text()
    assert "QUICK sizes" in table and "| lenet5 | lenet5_mnist | 64 |" in table
    assert "| convnet_cifar10 | 20 | 5 |" in table and "byte-identical" in table
    assert done.stdout.rstrip().endswith(table.rstrip())  # printed last: the device tool shows the tail


def test_the_estimate_is_the_recipe_over_the_measured_rates():
    cfg = {"dataset": "cifar10", "val_size": 5000, "limit_train": 0, "limit_test": 0, "epochs": 10}
    rate = {"train_images_per_sec": 45_000, "eval_images_per_sec": 15_000}
    # an epoch: 45,000 training images in 1 s, 15,000 validation and test images in 1 s; then
    # `cnnlab evaluate`: validation, test and shifted test, 25,000 images
    assert device_check.estimate(cfg, rate) == pytest.approx(10 * 2 + 25_000 / 15_000)


def test_a_missing_mnist_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert device_check.main(["--mnist", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"cnnlab: error: --mnist {tmp_path / 'nowhere'}: not a folder; give the folder of MNIST's IDX files"]
