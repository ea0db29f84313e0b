import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnnlab import config
from cnnlab.errors import CnnlabError

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"
STUDY_EXPERIMENTS = [  # STUDY.md's E1-E8
    "lenet5_mnist", "mlp_mnist", "cnn_mnist", "mlp_mnist_permuted", "cnn_mnist_permuted",
    "vgg_cifar10", "resnet18_cifar10", "resnet18_cifar10_long", "lenet_sigmoid_fashionmnist",
    "convnet_cifar10", "cnn_bn_mnist", "resnet18_transfer_cifar10",
]
QUESTION_VARIANTS = [  # the lab's questions: each a variant of a base experiment (`base:`)
    "lenet5_mnist_file_order", "lenet5_mnist_class_sorted", "convnet_cifar10_shuffled",
    "lenet5_mnist_normalize_none", "lenet5_mnist_normalize_imagenet", "lenet5_mnist_normalize_wrong",
    "lenet5_mnist_crop", "lenet_sigmoid_fashionmnist_normalize_dataset",
    "lenet_sigmoid_fashionmnist_normalize_imagenet", "lenet_sigmoid_fashionmnist_normalize_wrong",
    "vgg_cifar10_no_augment",
    *[f"lenet5_mnist_batch{b}" for b in (16, 256, 1024, 4096)],
    "lenet5_mnist_batch16_fixed_steps", "lenet5_mnist_batch256_fixed_steps",
    *[f"lenet5_mnist_batch{b}_scaled_lr" for b in (16, 256, 1024, 4096)],
]
Q4_EXPERIMENTS = [  # question 4: two bases of their own, each with one variant (another model)
    "cnn_fc_head_mnist", "cnn_conv1x1_head_mnist", "cnn_plain_block_mnist", "cnn_bottleneck_block_mnist"]
EXPERIMENTS = STUDY_EXPERIMENTS + QUESTION_VARIANTS + Q4_EXPERIMENTS


def test_catalog_has_every_experiment_and_validates():
    params = config.load_params(PARAMS)
    assert list(params["experiments"]) == EXPERIMENTS


def test_schema_file_is_shared_with_snakemake():
    linked = REPO / "workflow" / "schemas" / "params.schema.yaml"
    assert linked.resolve() == (REPO / "src" / "cnnlab" / "config" / "params.schema.yaml").resolve()


def test_experiment_config_merges_study_recipe_scale_and_overrides():
    params = config.load_params(PARAMS)
    cfg = config.experiment_config(params, "resnet18_cifar10_long")
    assert cfg["seeds"] == [42, 43, 44, 45, 46] and cfg["milestones"] == [82, 123] and cfg["epochs"] == 150
    assert cfg["mix"] == "none" and cfg["limit_train"] == 0  # schema defaults filled in
    smoke = config.experiment_config(params, "lenet5_mnist", ["scale=smoke", "lr=1e-4"])
    assert smoke["epochs"] == 1 and smoke["limit_train"] == 512 and smoke["lr"] == 1e-4
    assert smoke["seeds"] == [0, 1]  # the scale's seeds beat the study's
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


def test_cli_list_and_help(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS.read_text().replace("\ndatasets: auto",
                                               "\ndatasets: [mnist, fashion_mnist, cifar10]"))
    listing = run_cli("--params", str(path), "list")
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
    path.write_text(PARAMS.read_text().replace("\ndatasets: auto", "\ndatasets: [mnist, fashion_mnist]"))
    listing = run_cli("--params", str(path), "list")
    lines = listing.stdout.splitlines()
    left_out = [line.split()[0] for line in lines if line.endswith("(left out)")]
    assert listing.returncode == 0
    assert left_out == ["vgg_cifar10", "resnet18_cifar10", "resnet18_cifar10_long", "convnet_cifar10",
                        "resnet18_transfer_cifar10", "convnet_cifar10_shuffled", "vgg_cifar10_no_augment"]
    assert lines[-1] == "left out: cifar10: left out by `datasets` in params.yaml; name it there to run it"


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
    cfg = config.experiment_config(params, "lenet5_mnist", [f"seeds=[{2**32 - 1}]"])
    assert config.run_config(cfg, 2**32 - 1)["seed"] == 2**32 - 1
    with pytest.raises(CnnlabError, match="out of range; allowed: a value >= 0 and <= 4294967295"):
        config.experiment_config(params, "lenet5_mnist", [f"seeds=[{2**32}]"])


def test_a_run_has_its_seed_and_not_the_list():
    """The list of seeds is no part of a run's recipe: one more seed in it changes no run."""
    params = config.load_params(PARAMS)
    cfg = config.experiment_config(params, "lenet5_mnist")
    assert cfg["seeds"] == [0, 1, 2, 3, 4]
    more = config.experiment_config(params, "lenet5_mnist", ["seeds=[0, 1, 2, 3, 4, 5]"])
    assert config.run_config(cfg, 3) == config.run_config(more, 3)
    assert config.run_config(cfg, 3)["seed"] == 3 and "seeds" not in config.run_config(cfg, 3)
    with pytest.raises(CnnlabError, match=r"--seed 7: lenet5_mnist runs at the seeds \[0, 1, 2, 3, 4\]"):
        config.run_config(cfg, 7)
    for bad, words in [("seeds=[]", "[] has too few items; allowed: at least 1"),
                       ("seeds=[1, 1]", "[1, 1] lists a value more than once"),
                       ("seeds=3", "has the wrong type; allowed: array")]:
        with pytest.raises(CnnlabError, match=None) as err:
            config.experiment_config(params, "lenet5_mnist", [bad])
        assert words in str(err.value)


def test_every_experiment_resolves_as_before_the_defaults_layer():
    """tests/resolved_experiments.json: every experiment's settings at both scales, taken from the
    catalog as it was before `defaults:` (each experiment spelled out in full). A deliberate
    recipe change updates it."""
    params = config.load_params(PARAMS)
    stored = json.loads((REPO / "tests" / "resolved_experiments.json").read_text())
    for scale, experiments in stored.items():
        resolved = {name: config.experiment_config(params, name, [f"scale={scale}"])
                    for name in STUDY_EXPERIMENTS}
        assert resolved == experiments


def catalog_with(tmp_path, old: str, new: str) -> Path:
    """A copy of params.yaml with its first `old` replaced by `new`."""
    text = PARAMS.read_text()
    assert old in text
    path = tmp_path / "params.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_defaults_reach_every_experiment_that_does_not_set_the_key(tmp_path):
    params = config.load_params(catalog_with(tmp_path, "\n  epochs: 10\n", "\n  epochs: 7\n"))
    before = config.load_params(PARAMS)
    changed = [name for name in EXPERIMENTS
               if config.experiment_config(params, name) != config.experiment_config(before, name)]
    assert changed == [name for name in EXPERIMENTS if before["experiments"][name]["epochs"] == 10]
    assert all(params["experiments"][name]["epochs"] == 7 for name in changed)
    assert params["experiments"]["cnn_bn_mnist"]["epochs"] == 5  # an experiment's own value wins


@pytest.mark.parametrize("old, new, words", [
    ("\n  lr: 0.01\n", "\n", "experiments.mlp_mnist: the key 'lr' is missing; add it to the experiment "
                             "or to `defaults`"),
    ("\n  lr: 0.01\n", "\n  lr: 0.01\n  dataset: mnist\n", "defaults: 'dataset' is not allowed here: each "
                                                          "experiment names its own"),
    ("\n  lr: 0.01\n", "\n  lr: 0.01\n  seeds: [1]\n", "defaults: 'seeds' is not allowed here"),
    ("\n  lr: 0.01\n", "\n  lr: 0\n", "defaults.lr: 0 is out of range; allowed: a value > 0"),
    ("\n  lr: 0.01\n", "\n  lr: 0.01\n  learning_rate: 1\n", "defaults: unknown key 'learning_rate'"),
    ("    model: lenet5\n", "", "experiments.lenet5_mnist: the key 'model' is missing; add it (see"),
])
def test_bad_defaults_are_one_line_naming_the_key(tmp_path, old, new, words):
    path = catalog_with(tmp_path, old, new)
    result = run_cli("--params", str(path), "list")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"cnnlab: error: {path}: {words}")
    assert len(result.stderr.splitlines()) == 1


def test_schema_names_the_datasets_cnnlab_knows():
    from cnnlab.data.catalog import DATASETS

    assert config.schema()["$defs"]["dataset"]["enum"] == list(DATASETS)
    assert config.schema()["properties"]["datasets"]["anyOf"][1]["items"] == {"$ref": "#/$defs/dataset"}
    assert config.experiment_keys()["dataset"] == {"$ref": "#/$defs/dataset"}
