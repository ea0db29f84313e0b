"""What a variant changes from its base, in words a reader understands: "batch 16, learning rate
scaled to 0.00025" where the experiment id says lenet5_mnist_batch16_scaled_lr. Derived from the
recipes the runs recorded (train.json's config), so a question of one's own gets the same words.
The words of a value whose name alone says little ("order: class_sorted"), and of the keys, are the
catalog's `recipe` entries (language.Messages); any other key reads "<key> <value>"."""

import math

from cnnlab import config
from cnnlab.reporting.language import Messages
from cnnlab.results.records import FinishedRun

NOT_A_SETTING = {"seeds"}  # differs between experiments without being what a question varies


def recipe_keys() -> list[str]:
    """An experiment's keys, as the schema declares them, and the validation split's size."""
    return [*config.schema()["$defs"]["experiment"]["properties"], "val_size"]


def changed_keys(variant: FinishedRun, base: FinishedRun) -> list[str]:
    """The recipe keys in which the variant's runs differ from the base's."""
    return [k for k in recipe_keys() if k not in NOT_A_SETTING and variant.cfg.get(k) != base.cfg.get(k)]


def lr_scaled_with_batch(cfg: dict, base_cfg: dict) -> bool:
    """The learning rate changed in proportion to the batch size (the linear scaling rule)."""
    return math.isclose(cfg["lr"] * base_cfg["batch_size"], base_cfg["lr"] * cfg["batch_size"], rel_tol=1e-9)


def value_name(value) -> str:
    """A recipe value as a catalog names it: YAML's true and false for the booleans."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def value_words(key: str, value, words: Messages, scaled: bool = False) -> str:
    known = words.entry("recipe.values").get(key, {})
    if value_name(value) in known:
        return known[value_name(value)]
    if key == "epochs":
        return words("recipe.epochs", value=value)
    key_words = words.entry("recipe.keys").get(key, key.replace("_", " "))
    return words("recipe.scaled" if scaled else "recipe.setting", key=key_words, value=value)


def setting_words(cfg: dict, keys: list[str], words: Messages, base_cfg: dict | None = None,
                  joiner: str = "list") -> str:
    """`cfg`'s values of `keys` in words, joined by the catalog's `join.<joiner>`; against `base_cfg`, a
    learning rate that follows the batch size says so ('batch 16, learning rate scaled to 0.00025')."""
    scaled = (base_cfg is not None and {"lr", "batch_size"} <= set(keys)
              and lr_scaled_with_batch(cfg, base_cfg))
    # the batch size first: the epochs or learning rate that change with it read as following it
    ordered = sorted(keys, key=lambda k: k != "batch_size")
    return words(f"join.{joiner}").join(value_words(k, cfg.get(k), words, scaled and k == "lr")
                                        for k in ordered)


def change_words(variant: FinishedRun, base: FinishedRun, words: Messages, joiner: str = "comma") -> str:
    """What the variant changes, in words; 'the same recipe' when its runs differ in no setting."""
    return (setting_words(variant.cfg, changed_keys(variant, base), words, base.cfg, joiner)
            or words("recipe.same_recipe"))


def base_words(base: FinishedRun, variants: list[FinishedRun], words: Messages) -> str:
    """The base's own values of the keys its variants change ('batch 64')."""
    keys = [k for k in recipe_keys() if any(k in changed_keys(v, base) for v in variants)]
    return setting_words(base.cfg, keys, words, joiner="and") or words("recipe.its_recipe")
