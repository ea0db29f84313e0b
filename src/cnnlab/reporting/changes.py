"""What a variant changes from its base, in words a reader understands: "batch 16, learning rate
scaled to 0.00025" where the experiment id says lenet5_mnist_batch16_scaled_lr. Derived from the
recipes the runs recorded (train.json's config), so a question of one's own gets the same words."""

import math

from cnnlab import config
from cnnlab.results.records import FinishedRun

NOT_A_SETTING = {"seeds"}  # differs between experiments without being what a question varies

# A value's words where its name alone says little; any other key reads "<key> <value>".
VALUE_WORDS = {
    "order": {"shuffled": "the training set shuffled every epoch",
              "file": "the training set in file order", "class_sorted": "the training set sorted by class"},
    "normalize": {"dataset": "inputs normalized by the dataset's mean and SD", "none": "no normalization",
                  "imagenet": "inputs normalized by ImageNet's mean and SD",
                  "wrong": "a wrong normalization (mean 0.9, SD 0.05)"},
    "augment": {"none": "no augmentation", "crop": "random crops", "crop_flip": "random crops and flips"},
    "permute": {True: "the pixels shuffled", False: "the pixels in place"},
    "optimizer": {"sgd": "plain SGD", "adam": "Adam"},
}
KEY_WORDS = {"batch_size": "batch", "lr": "learning rate", "test_batch_size": "test batch"}


def recipe_keys() -> list[str]:
    """An experiment's keys, as the schema declares them, and the validation split's size."""
    return [*config.schema()["$defs"]["experiment"]["properties"], "val_size"]


def changed_keys(variant: FinishedRun, base: FinishedRun) -> list[str]:
    """The recipe keys in which the variant's runs differ from the base's."""
    return [k for k in recipe_keys() if k not in NOT_A_SETTING and variant.cfg.get(k) != base.cfg.get(k)]


def lr_scaled_with_batch(cfg: dict, base_cfg: dict) -> bool:
    """The learning rate changed in proportion to the batch size (the linear scaling rule)."""
    return math.isclose(cfg["lr"] * base_cfg["batch_size"], base_cfg["lr"] * cfg["batch_size"], rel_tol=1e-9)


def value_words(key: str, value, scaled: bool = False) -> str:
    if key in VALUE_WORDS and value in VALUE_WORDS[key]:
        return VALUE_WORDS[key][value]
    if key == "epochs":
        return f"{value} epochs"
    return f"{KEY_WORDS.get(key, key.replace('_', ' '))}{' scaled to' if scaled else ''} {value}"


def setting_words(cfg: dict, keys: list[str], base_cfg: dict | None = None, joiner: str = ", ") -> str:
    """`cfg`'s values of `keys` in words; against `base_cfg`, a learning rate that follows the batch
    size says so ('batch 16, learning rate scaled to 0.00025')."""
    scaled = (base_cfg is not None and {"lr", "batch_size"} <= set(keys)
              and lr_scaled_with_batch(cfg, base_cfg))
    # the batch size first: the epochs or learning rate that change with it read as following it
    ordered = sorted(keys, key=lambda k: k != "batch_size")
    return joiner.join(value_words(k, cfg.get(k), scaled and k == "lr") for k in ordered)


def change_words(variant: FinishedRun, base: FinishedRun, joiner: str = ", ") -> str:
    """What the variant changes, in words; 'the same recipe' when its runs differ in no setting."""
    return setting_words(variant.cfg, changed_keys(variant, base), base.cfg, joiner) or "the same recipe"


def base_words(base: FinishedRun, variants: list[FinishedRun]) -> str:
    """The base's own values of the keys its variants change ('batch 64')."""
    keys = [k for k in recipe_keys() if any(k in changed_keys(v, base) for v in variants)]
    return setting_words(base.cfg, keys, joiner=" and ") or "its recipe"
