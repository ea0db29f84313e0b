import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnnlab import config
from cnnlab.errors import CnnlabError

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"
EXPERIMENTS = [
    "lenet5_mnist", "mlp_mnist", "cnn_mnist", "mlp_mnist_permuted", "cnn_mnist_permuted",
    "vgg_cifar10", "resnet18_cifar10", "resnet18_cifar10_long", "lenet_sigmoid_fashionmnist",
    "convnet_cifar10", "cnn_bn_mnist", "resnet18_transfer_cifar10",
]


def test_catalog_has_every_experiment_and_validates():
    params = config.load_params(PARAMS)
    assert list(params["experiments"]) == EXPERIMENTS


def test_schema_file_is_shared_with_snakemake():
    linked = REPO / "workflow" / "schemas" / "params.schema.yaml"
    assert linked.resolve() == (REPO / "src" / "cnnlab" / "params.schema.yaml").resolve()


def test_experiment_config_merges_study_recipe_scale_and_overrides():
    params = config.load_params(PARAMS)
    cfg = config.experiment_config(params, "resnet18_cifar10_long")
    assert cfg["seed"] == 42 and cfg["milestones"] == [82, 123] and cfg["epochs"] == 150
    assert cfg["mix"] == "none" and cfg["limit_train"] == 0  # schema defaults filled in
    smoke = config.experiment_config(params, "lenet5_mnist", ["scale=smoke", "lr=1e-4"])
    assert smoke["epochs"] == 1 and smoke["limit_train"] == 512 and smoke["lr"] == 1e-4
    explicit = config.experiment_config(params, "lenet5_mnist", ["scale=smoke", "epochs=3"])
    assert explicit["epochs"] == 3  # an explicit --set beats the scale
    assert config.experiment_config(params, "lenet5_mnist", ["data.val_size=10"])["val_size"] == 10


@pytest.mark.parametrize("override, words", [
    ("bogus=1", "unknown key 'bogus'"),
    ("lr=-0.1", "lr: -0.1 is out of range; allowed: a value > 0"),
    ("epochs=0", "epochs: 0 is out of range"),
    ("epochs=two", "epochs: 'two' has the wrong type; allowed: integer"),
    ("model=alexnet", "model: 'alexnet' is not allowed; choose one of"),
    ("scale=huge", "scale: 'huge' is not defined"),
    ("lr", "expected key=value"),
])
def test_bad_overrides_name_the_key_and_what_is_allowed(override, words):
    params = config.load_params(PARAMS)
    with pytest.raises(CnnlabError, match=None) as err:
        config.experiment_config(params, "lenet5_mnist", [override])
    assert words in str(err.value)


def test_unknown_key_in_params_file_is_refused(tmp_path):
    params = config.read_yaml(PARAMS.read_text(), source=str(PARAMS))
    params["experiments"]["lenet5_mnist"]["learning_rate"] = 0.1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(CnnlabError, match=r"experiments\.lenet5_mnist: .*'learning_rate'.*allowed keys"):
        config.load_params(path)


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("args, words", [
    (["train", "alexnet_mnist"], "unknown experiment 'alexnet_mnist'"),
    (["train", "lenet5_mnist", "--set", "bogus=1"], "unknown key 'bogus'"),
    (["train", "lenet5_mnist", "--set", "epochs=x"], "wrong type"),
    (["train", "lenet5_mnist", "--set", "lr=-1"], "out of range"),
    (["evaluate", "lenet5_mnist", "--out", "/nonexistent/cnnlab"], "train.json is missing"),
    (["--params", "/nonexistent.yaml", "list"], "no such file"),
])
def test_cli_errors_are_one_line_and_exit_nonzero(args, words):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("cnnlab: error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_cli_list_and_help():
    listing = run_cli("list")
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert listing.returncode == 0 and rows[0] == ["experiment", "STUDY.md", "dataset", "model"]
    assert [row[0] for row in rows[1:]] == EXPERIMENTS
    assert rows[1][:4] == ["lenet5_mnist", "E1", "mnist", "lenet5"]
    assert [row[1] for row in rows[1:]].count("E2b") == 2 and len(rows[1]) == 4  # all in the study
    for command in ("list", "fetch", "train", "evaluate", "plot", "report", "plan"):
        assert run_cli(command, "--help").returncode == 0


def test_cli_output_into_a_closed_pipe_is_no_error():
    """`cnnlab list | head -1`: the reader leaves early; no traceback, the shell's code for it."""
    with subprocess.Popen([sys.executable, "-m", "cnnlab", "--params", str(PARAMS), "list"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # before cnnlab writes a line
        assert proc.wait() == 141 and proc.stderr.read() == b""


def test_cli_list_marks_experiments_that_datasets_leaves_out(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS.read_text().replace("\ndatasets: [mnist, fashion_mnist, cifar10]",
                                               "\ndatasets: [mnist, fashion_mnist]"))
    listing = run_cli("--params", str(path), "list")
    left_out = [line.split()[0] for line in listing.stdout.splitlines() if "left out" in line]
    assert listing.returncode == 0
    assert left_out == ["vgg_cifar10", "resnet18_cifar10", "resnet18_cifar10_long", "convnet_cifar10",
                        "resnet18_transfer_cifar10"]


def test_study_numbers_are_no_part_of_any_recipe(tmp_path):
    """The STUDY.md labels change no experiment's settings, so no result and no rerun."""
    params = config.load_params(PARAMS)
    assert params["study_numbers"]["lenet5_mnist"] == "E1"
    without = config.read_yaml(PARAMS.read_text(), source=str(PARAMS))
    del without["study_numbers"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(without))
    unlabelled = config.load_params(path)
    for name in EXPERIMENTS:
        assert config.experiment_config(params, name) == config.experiment_config(unlabelled, name)


def test_largest_seed_is_accepted_and_one_more_is_refused():
    """2**32 - 1: NumPy's largest seed; seed * 100_003 + epoch stays inside torch's 64 bits."""
    params = config.load_params(PARAMS)
    assert config.experiment_config(params, "lenet5_mnist", [f"seed={2**32 - 1}"])["seed"] == 2**32 - 1
    with pytest.raises(CnnlabError, match="out of range; allowed: a value >= 0 and <= 4294967295"):
        config.experiment_config(params, "lenet5_mnist", [f"seed={2**32}"])
