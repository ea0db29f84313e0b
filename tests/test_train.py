"""Training and evaluation on small synthetic data in the real formats, and on real MNIST."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from cnnlab import config
from cnnlab.data.fetch import fetch
from cnnlab.results.records import HISTORY_COLUMNS
from cnnlab.training.evaluate import evaluate
from cnnlab.training.train import TrainingDiverged, train
from realdata import REAL_MIRROR, needs_real_mnist
from synthetic import write_mirror

REPO = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = ["seconds", "images_per_sec"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A params.yaml whose data root holds synthetic MNIST and CIFAR-10 (small, learnable)."""
    tmp = tmp_path_factory.mktemp("project")
    mirror = write_mirror(tmp / "mirror", datasets=("mnist", "cifar10"), n_train=700, n_test=200)
    params = config.read_params(REPO / "params.yaml")
    params["data"].update(root=str(tmp / "raw"), mirror=str(mirror), verify=False, val_size=100)
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for name in ("mnist", "cifar10"):
        fetch(name, tmp / "raw", mirror=mirror, verify=False)
    return tmp


def cfg_for(project, name, *overrides):
    """The settings of `name`'s run at its first seed."""
    cfg = config.experiment_config(config.load_params(project / "params.yaml"), name, overrides)
    return config.run_config(cfg, cfg["seeds"][0])


def run(project, name, out, *overrides):
    cfg = cfg_for(project, name, *overrides)
    train(cfg, out)
    return evaluate(cfg, out)


def test_training_learns_and_writes_every_result(project, tmp_path):
    metrics = run(project, "cnn_mnist", tmp_path, "epochs=3", "lr=0.05")
    assert metrics["test_acc"] > 0.9 and metrics["val_acc"] > 0.9
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS and list(history["epoch"]) == [1, 2, 3]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    record = json.loads((tmp_path / "train.json").read_text())
    assert record["parameters"] == 6422 and record["data_verified"] is False
    assert record["train_size"] == 600 and record["val_size"] == 100 and record["test_size"] == 200
    assert record["flops_per_image"] > 0 and record["peak_memory_mb"] > 0
    per_class = pd.read_csv(tmp_path / "per_class.csv", dtype={"class": str})
    assert list(per_class["class"]) == [str(i) for i in range(10)] and per_class["total"].sum() == 200
    confusion = pd.read_csv(tmp_path / "confusion.csv", index_col="actual", dtype={"actual": str})
    assert confusion.values.sum() == 200 and list(per_class["correct"]) == list(confusion.values.diagonal())
    predictions = pd.read_csv(tmp_path / "predictions.csv", dtype=str)
    assert len(predictions) == 200
    assert (predictions["actual"] == predictions["predicted"]).mean() == pytest.approx(metrics["test_acc"])
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert metrics["best_epoch"] == history.loc[history["val_acc"].idxmax(), "epoch"]
    # written atomically, yet with the permissions of any new file (not a temp file's 0600)
    umask = os.umask(0)
    os.umask(umask)
    assert {f.stat().st_mode & 0o777 for f in tmp_path.iterdir() if f.is_file()} == {0o666 & ~umask}


def non_timing(history_csv: Path) -> pd.DataFrame:
    return pd.read_csv(history_csv).drop(columns=TIMING_COLUMNS)


def result_bytes(out: Path) -> dict:
    return {name: (out / name).read_bytes() for name in ("metrics.json", "per_class.csv", "predictions.csv")}


@pytest.mark.parametrize("name, overrides", [
    ("cnn_bn_mnist", ["epochs=2"]),  # dropout and BatchNorm
    ("convnet_cifar10", ["epochs=2", "augment=crop_flip", "order=shuffled", "mix=cutmix"]),
])
def test_same_parameters_give_byte_identical_results(project, tmp_path, name, overrides):
    run(project, name, tmp_path / "a", *overrides)
    run(project, name, tmp_path / "b", *overrides)
    assert result_bytes(tmp_path / "a") == result_bytes(tmp_path / "b")
    pd.testing.assert_frame_equal(non_timing(tmp_path / "a/history.csv"),
                                  non_timing(tmp_path / "b/history.csv"))
    other_seed = run(project, name, tmp_path / "c", *overrides, "seeds=[1]")
    assert non_timing(tmp_path / "c/history.csv")["train_loss"].tolist() != \
        non_timing(tmp_path / "a/history.csv")["train_loss"].tolist(), other_seed


def test_interrupted_then_resumed_run_ends_like_an_uninterrupted_one(project, tmp_path):
    overrides = ("epochs=3", "scheduler=cosine", "optimizer=sgd", "momentum=0.9",
                 "mix=mixup", "mix_alpha=0.2")
    cfg = cfg_for(project, "convnet_cifar10", *overrides, "augment=crop_flip", "order=shuffled")
    train(cfg, tmp_path / "whole")
    evaluate(cfg, tmp_path / "whole")

    def interrupt_after_first_epoch(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", on_epoch_end=interrupt_after_first_epoch)
    assert not (tmp_path / "resumed/train.json").exists()
    train(cfg, tmp_path / "resumed", resume=True)
    evaluate(cfg, tmp_path / "resumed")
    assert result_bytes(tmp_path / "whole") == result_bytes(tmp_path / "resumed")
    pd.testing.assert_frame_equal(non_timing(tmp_path / "whole/history.csv"),
                                  non_timing(tmp_path / "resumed/history.csv"))
    whole = torch.load(tmp_path / "whole/model.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed/model.pt", weights_only=True)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_resume_refuses_other_parameters(project, tmp_path):
    train(cfg_for(project, "mlp_mnist"), tmp_path)
    with pytest.raises(Exception, match="other parameters"):
        train(cfg_for(project, "mlp_mnist", "lr=0.02"), tmp_path, resume=True)


def test_diverging_loss_stops_with_epoch_and_step_and_writes_no_metrics(project, tmp_path):
    cfg = cfg_for(project, "lenet5_mnist", "optimizer=sgd", "lr=1e12")
    with pytest.raises(TrainingDiverged, match=r"at epoch 1, step \d+; lower the learning rate"):
        train(cfg, tmp_path)
    assert not (tmp_path / "train.json").exists() and not (tmp_path / "metrics.json").exists()
    result = subprocess.run([sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml"),
                             "train", "lenet5_mnist", "--set", "optimizer=sgd", "--set", "lr=1e12",
                             "--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert result.returncode == 2 and "the loss became nan" in result.stderr.lower()
    assert not (tmp_path / "cli/train.json").exists()


def test_model_and_dataset_must_match(project, tmp_path):
    with pytest.raises(Exception, match="takes 1-channel images but cifar10 has 3"):
        train(cfg_for(project, "convnet_cifar10", "model=lenet5"), tmp_path)


def test_cli_runs_each_seed_keeps_current_runs_and_summarizes(project, tmp_path):
    """`cnnlab train` trains each seed into runs/seed<k>/; run again it keeps them; one more seed in
    the list trains that seed alone; `summarize` puts the seeds together."""
    base = [sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml")]

    def cnnlab(command, seeds, *more):
        return subprocess.run([*base, command, "mlp_mnist_permuted", "--out", str(tmp_path), "--threads", "1",
                               "--set", f"seeds={seeds}", *more], capture_output=True, text=True)

    assert cnnlab("train", "[0, 1]").returncode == 0
    first = {seed: (tmp_path / f"runs/seed{seed}/model.pt").read_bytes() for seed in (0, 1)}
    again = cnnlab("train", "[0, 1, 2]")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already trained with this recipe and code; kept") == 2
    assert "seed 2: trained 1 epoch in" in again.stdout
    assert all((tmp_path / f"runs/seed{seed}/model.pt").read_bytes() == first[seed] for seed in (0, 1))
    assert first[0] != first[1]  # each seed its own run
    assert cnnlab("evaluate", "[0, 1, 2]").returncode == 0
    metrics = (tmp_path / "runs/seed1/metrics.json").stat().st_mtime_ns
    again = cnnlab("evaluate", "[0, 1, 2]")  # each run evaluated from this model.pt: kept, untouched
    assert again.stdout.count("already evaluated from this model.pt and code; kept") == 3, again.stderr
    assert (tmp_path / "runs/seed1/metrics.json").stat().st_mtime_ns == metrics
    summarized = cnnlab("summarize", "[0, 1, 2]")
    assert "over 3 seeds" in summarized.stdout, summarized.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    per_seed = pd.read_csv(tmp_path / "seeds.csv")
    assert summary["seeds"] == [0, 1, 2] and list(per_seed["seed"]) == [0, 1, 2]
    assert summary["test_acc"]["n"] == 3 and summary["test_acc"]["mean"] == pytest.approx(
        per_seed["test_acc"].mean(), abs=1e-6)
    assert summary["test_acc"]["ci_low"] <= summary["test_acc"]["mean"] <= summary["test_acc"]["ci_high"]
    record = json.loads((tmp_path / "runs/seed2/train.json").read_text())
    assert record["data_verified"] is False and record["threads"] == 1 and record["config"]["seed"] == 2
    per_class = pd.read_csv(tmp_path / "per_class.csv", dtype={"class": str})
    assert per_class["total"].sum() == 3 * 200  # the three runs' counts added up
    refused = cnnlab("train", "[0, 1, 2]", "--seed", "5")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--seed 5: mlp_mnist_permuted runs at the seeds [0, 1, 2]" in refused.stderr


@pytest.fixture(scope="module")
def real_mnist_params(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    params = config.read_params(REPO / "params.yaml")
    params["data"].update(root=str(tmp / "raw"), mirror=str(REAL_MIRROR))
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    fetch("mnist", tmp / "raw", mirror=REAL_MIRROR)
    return tmp


@pytest.mark.slow  # trains on the real MNIST (about a minute)
@needs_real_mnist
def test_lenet5_reaches_the_labs_accuracy_in_one_epoch_on_real_mnist(real_mnist_params, tmp_path):
    # The lab trains on all 60,000 images (no validation split) and reports 97.7 % after one epoch.
    metrics = run(real_mnist_params, "lenet5_mnist", tmp_path, "epochs=1", "data.val_size=0")
    assert metrics["test_acc"] >= 0.975
    assert json.loads((tmp_path / "train.json").read_text())["data_verified"] is True


@pytest.mark.slow  # trains on the real MNIST (about half a minute)
@needs_real_mnist
def test_shuffled_pixels_take_the_cnns_lead_on_real_mnist(real_mnist_params, tmp_path):
    acc = {name: run(real_mnist_params, name, tmp_path / name)["test_acc"]
           for name in ("mlp_mnist", "cnn_mnist", "mlp_mnist_permuted", "cnn_mnist_permuted")}
    assert abs(acc["mlp_mnist"] - 0.88) <= 0.02 and abs(acc["cnn_mnist"] - 0.945) <= 0.02, acc
    assert acc["cnn_mnist"] - acc["mlp_mnist"] > 0.03, acc  # the CNN leads on real images ...
    assert acc["cnn_mnist_permuted"] < acc["cnn_mnist"] - 0.03, acc  # ... loses much when shuffled ...
    assert abs(acc["mlp_mnist_permuted"] - acc["mlp_mnist"]) < 0.03, acc  # ... the MLP barely changes
