"""The lab's questions in the catalog: `base:` variants of an experiment, grouped under `questions:`."""

import types

import pytest
import yaml

from cnnlab import config
from cnnlab.errors import CnnlabError
from cnnlab.reporting import changes
from cnnlab.reporting.language import ENGLISH
from test_config import PARAMS, QUESTION_VARIANTS, catalog_with, run_cli


def resolved(params: dict, name: str) -> dict:
    return config.experiment_config(params, name)


def test_a_variant_is_its_base_with_the_keys_it_changes():
    params = config.load_params(PARAMS)
    base, variant = resolved(params, "lenet5_mnist"), resolved(params, "lenet5_mnist_class_sorted")
    assert {k for k in base if base[k] != variant[k]} == {"name", "order"}
    assert variant["order"] == "class_sorted" and variant["lr"] == 0.001 and variant["optimizer"] == "adam"
    sigmoid = resolved(params, "lenet_sigmoid_fashionmnist_normalize_imagenet")
    assert (sigmoid["lr"], sigmoid["batch_size"], sigmoid["init"]) == (0.9, 256, "xavier_uniform")
    assert "base" not in variant and "base" not in config.run_config(variant, 0)  # no part of the recipe


def test_every_question_variant_changes_one_key_of_its_base():
    params = config.load_params(PARAMS)
    questions = params["questions"]
    q4_variants = ["cnn_conv1x1_head_mnist", "cnn_bottleneck_block_mnist"]
    variants = sorted(v for q in questions.values() for v in q["variants"])
    assert variants == sorted(QUESTION_VARIANTS + q4_variants)
    for question in questions.values():
        base = resolved(params, question["base"])
        for name in question["variants"]:
            variant = resolved(params, name)
            changed = {k for k in base if base[k] != variant[k]} - {"name"}
            assert changed and changed <= {"order", "normalize", "augment", "batch_size", "epochs", "lr",
                                           "model"}
            assert len(changed - {"epochs", "lr"}) == 1, (name, changed)  # Q3 pairs batch with epochs or lr


def test_fixed_step_variants_take_the_base_steps_and_scaled_lr_is_linear():
    params = config.load_params(PARAMS)
    steps = resolved(params, "lenet5_mnist")["epochs"] * -(-55000 // 64)
    cfg = resolved(params, "lenet5_mnist_batch256_fixed_steps")
    assert cfg["epochs"] * 55000 / 256 == pytest.approx(10 * 55000 / 64)
    assert cfg["epochs"] * -(-55000 // 256) >= steps * 0.99
    assert resolved(params, "lenet5_mnist_batch16_fixed_steps")["epochs"] == 3  # 2.5 is no whole number
    for batch in (16, 256, 1024, 4096):
        lr = resolved(params, f"lenet5_mnist_batch{batch}_scaled_lr")["lr"]
        assert lr == pytest.approx(0.001 * batch / 64)


def test_a_change_to_a_base_reaches_its_variants_and_only_where_they_do_not_set_the_key(tmp_path):
    before = config.load_params(PARAMS)
    after = config.load_params(catalog_with(tmp_path, "    lr: 0.001\n    test_batch_size: 64\n",
                                            "    lr: 0.002\n    test_batch_size: 64\n"))
    changed = {name for name in after["experiments"] if resolved(after, name) != resolved(before, name)}
    lenet5_family = {name for name in QUESTION_VARIANTS if name.startswith("lenet5_mnist_")}
    assert changed == {"lenet5_mnist"} | {name for name in lenet5_family if not name.endswith("_scaled_lr")}


def test_questions_are_no_part_of_any_recipe(tmp_path):
    params = config.load_params(PARAMS)
    without = config.read_params(PARAMS)
    del without["questions"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(without))
    unquestioned = config.load_params(path)
    assert all(resolved(params, name) == resolved(unquestioned, name) for name in params["experiments"])


VARIANT = "  lenet5_mnist_file_order:\n    base: lenet5_mnist\n"  # then its dataset


@pytest.mark.parametrize("old, new, words", [
    (VARIANT, VARIANT.replace("base: lenet5_mnist", "base: lenet5_mnst"),
     "experiments.lenet5_mnist_file_order.base: 'lenet5_mnst' is not an experiment; did you mean "
     "`lenet5_mnist`?"),
    (VARIANT, VARIANT.replace("base: lenet5_mnist", "base: lenet5_mnist_file_order"),
     "experiments.lenet5_mnist_file_order.base: an experiment cannot be its own base"),
    (VARIANT, VARIANT.replace("base: lenet5_mnist", "base: lenet5_mnist_crop"),
     "experiments.lenet5_mnist_file_order.base: lenet5_mnist_crop has a base itself (lenet5_mnist); "
     "a base must be an experiment without one: name lenet5_mnist instead"),
    (VARIANT, VARIANT.replace("base: lenet5_mnist", "base: 3"),
     "experiments.lenet5_mnist_file_order.base: 3 has the wrong type; allowed: string"),
    ("    base: lenet5_mnist\n    dataset: mnist\n    order: file\n", "    dataset: mnist\n    order: file\n",
     "experiments.lenet5_mnist_file_order: the key 'model' is missing"),
    ("    base: lenet5_mnist\n    dataset: mnist\n    order: file\n",
     "    base: lenet5_mnist\n    order: file\n",
     "experiments.lenet5_mnist_file_order: the key 'dataset' is missing"),
    ("variants: [lenet5_mnist_file_order,", "variants: [cnn_mnist,",
     "questions.q1_shuffle.variants: 'cnn_mnist' is not an experiment with `base: lenet5_mnist`"),
    ("variants: [lenet5_mnist_file_order,", "variants: [lenet_sigmoid_fashionmnist_normalize_wrong,",
     "questions.q1_shuffle.variants: 'lenet_sigmoid_fashionmnist_normalize_wrong' is not an experiment "
     "with `base: lenet5_mnist`"),
    ("variants: [lenet5_mnist_file_order,", "variants: [nonesuch,",
     "questions.q1_shuffle.variants: 'nonesuch' is not an experiment with `base: lenet5_mnist`"),
    ("    base: lenet5_mnist\n    variants: [lenet5_mnist_file_order",
     "    base: lenet5_mnist_crop\n    variants: [lenet5_mnist_file_order",
     "questions.q1_shuffle.base: 'lenet5_mnist_crop' is not an experiment without a base"),
    ("    title: \"DataLoader shuffle=True vs shuffle=False\"\n", "",
     "questions.q1_shuffle: the key 'title' is missing"),
    ("    base: lenet5_mnist\n    variants: [lenet5_mnist_file_order",
     "    base: lenet5_mnist\n    variant: [lenet5_mnist_file_order",
     "questions.q1_shuffle: unknown key 'variant'; did you mean `variants`?"),
    ("\n  lr: 0.01\n", "\n  lr: 0.01\n  base: lenet5_mnist\n", "defaults: 'base' is not allowed here"),
    ("  order: shuffled ", "  shuffle: true ",
     "defaults: unknown key 'shuffle'; it is now `order` (true = shuffled, false = file)"),
    ("  normalize: dataset ", "  normalize: true ",
     "defaults.normalize: True is not allowed; choose one of ['dataset', 'none', 'imagenet', 'wrong']"),
])
def test_bad_bases_and_questions_are_one_line_naming_the_key(tmp_path, old, new, words):
    path = catalog_with(tmp_path, old, new)
    result = run_cli("--params", str(path), "list")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"cnnlab: error: {path}: {words}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("override, words", [
    ("base=cnn_mnist", "unknown key 'base'"),
    ("order=random", "order: 'random' is not allowed; choose one of ['shuffled', 'file', 'class_sorted']"),
    ("augment=flip", "augment: 'flip' is not allowed; choose one of ['none', 'crop', 'crop_flip']"),
    ("shuffle=false", "unknown key 'shuffle'; it is now `order` (true = shuffled, false = file)"),
])
def test_set_takes_the_new_keys_and_not_base(override, words):
    with pytest.raises(CnnlabError) as err:
        config.experiment_config(config.load_params(PARAMS), "lenet5_mnist_file_order", [override])
    assert words in str(err.value)


@pytest.mark.parametrize("variant, words", [
    ("lenet5_mnist_batch16_scaled_lr", "batch 16, learning rate scaled to 0.00025"),
    ("lenet5_mnist_batch16", "batch 16"),
    ("lenet5_mnist_batch256_fixed_steps", "batch 256, 40 epochs"),
    ("lenet5_mnist_class_sorted", "the training set sorted by class"),
    ("lenet5_mnist_normalize_wrong", "a wrong normalization (mean 0.9, SD 0.05)"),
    ("lenet5_mnist_crop", "random crops"),
    ("lenet5_mnist", "the same recipe"),
])
def test_a_variant_is_named_by_what_it_changes_from_its_base(variant, words):
    params = config.load_params(PARAMS)
    runs = {name: types.SimpleNamespace(cfg=resolved(params, name)) for name in ("lenet5_mnist", variant)}
    assert changes.change_words(runs[variant], runs["lenet5_mnist"], ENGLISH) == words


def test_the_base_is_named_by_its_values_of_the_keys_its_variants_change():
    params = config.load_params(PARAMS)
    base, *variants = (types.SimpleNamespace(cfg=resolved(params, name)) for name in
                       ("lenet5_mnist", "lenet5_mnist_batch16_scaled_lr", "lenet5_mnist_file_order"))
    assert changes.base_words(base, variants, ENGLISH) == (
        "batch 64 and the training set shuffled every epoch and learning rate 0.001")
