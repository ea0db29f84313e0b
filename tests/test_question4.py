"""Discussion question 4 (1x1 convolution vs fully connected): the Linear = 1x1-conv check, test
accuracy on shifted images (`shifted_test_acc`), and the 1x1 bottleneck model and its plain twin."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from cnnlab.analysis.equivalence import conv1x1_equivalence, max_abs_difference
from cnnlab.models import count_parameters, create_model
from cnnlab.training.engine import flops_per_image
from cnnlab.training.evaluate import SHIFT_PIXELS, shift, shifted_images
from synthetic import mnist_project

REPO = Path(__file__).resolve().parents[1]

# --- (a) a Linear's weights in a 1x1 conv ------------------------------------------------------


def test_linear_and_its_1x1_conv_differ_by_rounding_only():
    check = conv1x1_equivalence()
    assert 0 <= check["float64"] < 1e-12
    assert 0 <= check["float32"] < 1e-5
    assert check["linear"] == "Linear(64, 10)" and check["outputs"] == 8 * 10 * 7 * 7
    assert check["threads"] == torch.get_num_threads()


def test_the_check_draws_the_same_numbers_every_time():
    assert max_abs_difference(torch.float32, seed=3) == max_abs_difference(torch.float32, seed=3)
    assert conv1x1_equivalence(seed=3) == conv1x1_equivalence(seed=3)


# --- (b) shifted test images -------------------------------------------------------------------


def one_pixel_image(row, column, size=6):
    image = torch.zeros(1, 1, size, size, dtype=torch.uint8)
    image[0, 0, row, column] = 255
    return image


def test_shift_moves_the_image_and_fills_with_black():
    image = torch.arange(1, 17, dtype=torch.uint8).reshape(1, 1, 4, 4)
    down = shift(image, 2, 0)[0, 0]
    assert down[:2].eq(0).all() and torch.equal(down[2:], image[0, 0, :2])
    left = shift(image, 0, -2)[0, 0]
    assert left[:, 2:].eq(0).all() and torch.equal(left[:, :2], image[0, 0, :, 2:])
    assert torch.equal(shift(one_pixel_image(1, 1), -1, 3), one_pixel_image(0, 4))


def test_each_image_moves_two_pixels_in_a_direction_of_its_own_drawn_from_the_seed():
    images = one_pixel_image(3, 3, size=8).repeat(400, 1, 1, 1)
    shifted = shifted_images(images, seed=0)
    # where each image's one pixel went, relative to (3, 3)
    flat = shifted.flatten(1).argmax(1)
    moves = {(int(i // 8) - 3, int(i % 8) - 3) for i in flat}
    assert SHIFT_PIXELS == 2 and moves == {(-2, 0), (2, 0), (0, -2), (0, 2)}
    assert shifted.flatten(1).sum(1).eq(255).all()  # nothing fell off; every image moved once
    assert torch.equal(shifted_images(images, seed=0), shifted)
    assert not torch.equal(shifted_images(images, seed=1), shifted)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A params.yaml whose data root holds synthetic MNIST."""
    return mnist_project(tmp_path_factory.mktemp("project"), n_train=700, n_test=200)


def test_evaluate_records_shifted_test_acc_and_summarize_reads_runs_without_it(project, tmp_path):
    base = [sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml")]

    def cnnlab(command):
        done = subprocess.run([*base, command, "cnn_mnist", "--out", str(tmp_path), "--threads", "1",
                               "--set", "seeds=[0, 1, 2]"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done

    cnnlab("train")
    cnnlab("evaluate")
    metrics = [json.loads((tmp_path / f"runs/seed{seed}/metrics.json").read_text()) for seed in (0, 1, 2)]
    assert all(0 <= m["shifted_test_acc"] <= 1 for m in metrics)
    predictions = pd.read_csv(tmp_path / "runs/seed0/predictions.csv", dtype=str)  # of the unshifted images
    assert (predictions["actual"] == predictions["predicted"]).mean() == pytest.approx(metrics[0]["test_acc"])
    cnnlab("summarize")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["shifted_test_acc"]["n"] == 3
    assert summary["shifted_test_acc"]["mean"] == pytest.approx(
        sum(m["shifted_test_acc"] for m in metrics) / 3, abs=1e-6)

    # runs evaluated before shifted_test_acc existed: summarised without it, not refused
    for seed, record in zip((0, 1), metrics):
        del record["shifted_test_acc"]
        (tmp_path / f"runs/seed{seed}/metrics.json").write_text(json.dumps(record))
    cnnlab("summarize")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["shifted_test_acc"]["n"] == 1 and summary["test_acc"]["n"] == 3
    del metrics[2]["shifted_test_acc"]
    (tmp_path / "runs/seed2/metrics.json").write_text(json.dumps(metrics[2]))
    cnnlab("summarize")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["shifted_test_acc"] is None and summary["test_acc"]["n"] == 3
    assert pd.read_csv(tmp_path / "seeds.csv")["shifted_test_acc"].isna().all()


# --- (c) a 1x1 bottleneck before the 3x3 conv --------------------------------------------------


def test_bottleneck_and_plain_models_differ_only_in_their_block():
    plain, bottleneck = create_model("cnn_plain_block"), create_model("cnn_bottleneck_block")
    for part in ("features", "head"):
        shapes = [{k: v.shape for k, v in getattr(model, part).state_dict().items()}
                  for model in (plain, bottleneck)]
        assert shapes[0] == shapes[1]
    assert count_parameters(plain.block) == 64 * 64 * 9 + 64
    assert count_parameters(bottleneck.block) == (64 * 16 + 16) + (16 * 64 * 9 + 64)
    assert (count_parameters(plain), count_parameters(bottleneck)) == (87_114, 60_506)


def test_the_bottleneck_saves_multiply_adds():
    cpu = torch.device("cpu")
    plain = flops_per_image(create_model("cnn_plain_block"), "cnn_plain_block", cpu)
    bottleneck = flops_per_image(create_model("cnn_bottleneck_block"), "cnn_bottleneck_block", cpu)
    # 2 FLOPs a multiply-add, at each of the 7 x 7 positions
    assert plain - bottleneck == 2 * 49 * (64 * 64 * 9 - (64 * 16 + 16 * 64 * 9))
