"""Reading a results folder back: train.json, metrics.json, history.csv and the checkpoints, checked.

A missing, damaged or foreign file gives one CnnlabError naming it and what to do. Checkpoints are
loaded with `weights_only=True`: they may hold tensors and plain values, never code that would run.
"""

from __future__ import annotations  # the annotations below name pandas and torch without importing them

import json
import math
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.config import run_config
from cnnlab.errors import CnnlabError, describe_os_error
from cnnlab.results import layout

# pandas and torch take seconds to import, and every command reads results: each is imported by the
# functions that use it (`cnnlab train` reads no table; summarize and report load no checkpoint).
if TYPE_CHECKING:
    import pandas as pd
    import torch

# The files of a run's folder that `cnnlab train` writes (train.json last), and history.csv's columns.
TRAIN_FILES = ("model.pt", "last.pt", "history.csv", "train.json")
HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                   "lr", "seconds", "images_per_sec"]
# What the readers need of the files that `cnnlab train` and `cnnlab evaluate` write.
TRAIN_RECORD_KEYS = ("experiment", "config", "dataset", "model", "parameters", "flops_per_image", "device",
                     "precision", "versions", "wall_seconds", "images_per_sec", "peak_memory_mb",
                     "data_verified", "best_epoch", "epochs", "train_size", "test_size")
METRICS_KEYS = ("test_acc", "val_acc", "test_loss", "best_epoch", "labs_best_test_acc", "labs_best_epoch")
# Which of those keys hold numbers: always, or a number or null (no validation split; not measured).
TRAIN_RECORD_NUMBERS = ("parameters", "wall_seconds", "images_per_sec", "best_epoch", "epochs", "train_size",
                        "test_size")
METRICS_NUMBERS = ("test_acc", "test_loss", "best_epoch", "labs_best_test_acc", "labs_best_epoch")
METRICS_NUMBERS_OR_NULL = ("val_acc", "shifted_test_acc")
# history.csv's columns that are numbers in every row (the validation columns are NaN without a split)
HISTORY_FINITE = [column for column in HISTORY_COLUMNS if not column.startswith("val_")]
# metrics.json also holds shifted_test_acc (question 4), not required: runs evaluated before it lack it.
EVALUATION_FILES = ("metrics.json", "per_class.csv", "confusion.csv", "predictions.csv")  # evaluate writes


def first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def read_json(path: Path, keys: tuple[str, ...], fix: str) -> dict:
    """The JSON object in `path`, which must have `keys`; `fix` says what to do when it is broken."""
    if not path.is_file():
        raise CnnlabError(f"{path} is missing; {fix}")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CnnlabError(f"{path} is not valid JSON ({first_line(err)}); {fix}") from None
    require_keys(data, keys, path, fix)
    return data


def require_numbers(data: dict, keys, path: Path, fix: str, or_null=()) -> None:
    """Each of `keys` in `data` is a finite number; each of `or_null`, where present, one or null."""
    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

    bad = [key for key in keys if not number(data.get(key))]
    bad += [key for key in or_null if data.get(key) is not None and not number(data[key])]
    if bad:
        raise CnnlabError(f"{path}: {', '.join(bad)} must be {'a number' if len(bad) == 1 else 'numbers'} "
                          f"(found {', '.join(shown_value(data.get(key)) for key in bad)}); {fix}")


def shown_value(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def require_keys(data, keys, path: Path, fix: str) -> None:
    if not isinstance(data, dict):
        raise CnnlabError(f"{path} holds a {type(data).__name__}, not a mapping; {fix}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise CnnlabError(f"{path} lacks {', '.join(missing)}; {fix}")


def read_csv(path: Path, columns, fix: str, numeric: bool = False, finite=(), **options) -> pd.DataFrame:
    """The table in `path` with at least `columns` (all numbers when `numeric`; no row without a number
    in the columns `finite`) and one row."""
    import pandas as pd  # see the imports at the top

    if not path.is_file():
        raise CnnlabError(f"{path} is missing; {fix}")
    try:
        table = pd.read_csv(path, **options)
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise CnnlabError(f"{path} is not a readable CSV table ({first_line(err)}); {fix}") from None
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise CnnlabError(f"{path} lacks the columns {', '.join(missing)}; {fix}")
    if table.empty:
        raise CnnlabError(f"{path} has no rows; {fix}")
    if numeric and not all(pd.api.types.is_numeric_dtype(table[column]) for column in columns):
        raise CnnlabError(f"{path} has values that are not numbers in {', '.join(columns)}; {fix}")
    import numpy as np

    empty = [column for column in finite if not np.isfinite(table[column]).all()]
    if empty:
        raise CnnlabError(f"{path} has rows without a number (NaN, empty or infinite) in "
                          f"{', '.join(empty)}; {fix}")
    return table


def read_train_record(folder: Path, cfg: dict, fix: str) -> dict:
    """train.json of `folder`, checked to be `cfg`'s experiment trained with `cfg`'s parameters."""
    record = read_train_json(folder, fix)
    if not isinstance(record["config"], dict):
        raise CnnlabError(f"{folder / 'train.json'}: config is not a mapping; {fix}")
    check_owner(folder, record["experiment"], cfg)
    check_same_recipe(record["config"], cfg, folder / "train.json", fix)
    return record


def read_train_json(folder: Path, fix: str) -> dict:
    record = read_json(folder / "train.json", TRAIN_RECORD_KEYS, fix)
    require_numbers(record, TRAIN_RECORD_NUMBERS, folder / "train.json", fix)
    return record


def read_metrics_json(folder: Path, fix: str) -> dict:
    metrics = read_json(folder / "metrics.json", METRICS_KEYS, fix)
    require_numbers(metrics, METRICS_NUMBERS, folder / "metrics.json", fix, or_null=METRICS_NUMBERS_OR_NULL)
    return metrics


def check_owner(folder: Path, owner, cfg: dict) -> None:
    """Refuse a folder holding another experiment's results: this command would mix or destroy them."""
    if owner is not None and owner != cfg["name"]:
        raise CnnlabError(f"{folder} holds the results of experiment {owner}, not {cfg['name']}; "
                          f"choose another --out (or move that folder away)")


def experiment_folder_owner(folder: Path) -> str | None:
    """The experiment whose results an experiment's `folder` holds, as its summary.json or else one of
    its runs says; None when none says."""
    try:
        return read_json(folder / "summary.json", ("experiment",), "")["experiment"]
    except CnnlabError:
        pass
    runs = sorted((folder / layout.RUNS).glob("seed*")) if (folder / layout.RUNS).is_dir() else []
    return next(filter(None, map(recorded_experiment, runs)), None)


def recorded_experiment(folder: Path) -> str | None:
    """The experiment whose results `folder` holds, as its train.json or else last.pt says; None when
    neither says (none there, or unreadable: a new run replaces them)."""
    try:
        return read_json(folder / "train.json", ("experiment",), "")["experiment"]
    except CnnlabError:
        pass
    try:
        state = load_checkpoint(folder / "last.pt", "")
        return state["config"]["name"]
    except (CnnlabError, TypeError, KeyError):
        return None


def recipe_differences(trained: dict, asked: dict) -> list[str]:
    """'key: trained with A, asked B' for each setting that differs; the data location may differ."""
    keys = sorted((set(trained) | set(asked)) - {"data"})
    return [f"{key}: trained with {trained.get(key, '(unset)')}, asked {asked.get(key, '(unset)')}"
            for key in keys if trained.get(key) != asked.get(key)]


def check_same_recipe(trained: dict, asked: dict, source: Path, fix: str) -> None:
    differences = recipe_differences(trained, asked)
    if differences:
        raise CnnlabError(f"{source} was trained with other parameters ({'; '.join(differences)}); {fix}")


def load_checkpoint(path: Path, fix: str, device: str | torch.device = "cpu"):
    """torch.load with weights_only=True: tensors and plain values come back, code never runs."""
    import torch  # see the imports at the top

    if not path.is_file():
        raise CnnlabError(f"{path} is {'no regular file' if path.exists() else 'missing'}; {fix}")
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle's protocol on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message is a page long; what it refused stands between its preamble and its
        # pointer to the documentation ("... unsupported GLOBAL posix.system ...")
        refused = str(err).partition("trusted source.")[2].partition("Check the documentation")[0]
        refused = refused.rpartition("Unpickler error:")[2] or refused
        reason = " ".join(refused.split())[:200] or "damaged"
        raise CnnlabError(f"{path} holds more than tensors and plain values ({reason}); it was not "
                          f"loaded and nothing in it ran; {fix}") from None
    except Exception as err:  # whatever the damaged bytes make torch.load raise (OSError EINVAL too)
        if isinstance(err, OSError) and describe_os_error(err) is not None:
            raise  # the file system's trouble (no access, ...), not the file's
        raise CnnlabError(f"{path} is not a readable checkpoint (empty, truncated or damaged: "
                          f"{first_line(err)}); {fix}") from None


def load_model_state(model: torch.nn.Module, path: Path, cfg: dict, fix: str) -> None:
    """Load the state_dict in `path` (model.pt) into `model`."""
    state = load_checkpoint(path, fix)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as err:
        raise CnnlabError(f"{path} does not fit the model {cfg['model']} ({first_line(err)}); "
                          f"{fix}") from None


# ----------------------------------------------------------------------------- a finished run

PER_CLASS_COLUMNS = ["class", "correct", "total", "accuracy"]  # what `cnnlab evaluate` writes
PREDICTION_COLUMNS = ["index", "actual", "predicted"]


@dataclass
class FinishedRun:
    """An evaluated experiment, as its results folder describes it (what the figures and the report read)."""

    name: str
    trained: dict  # train.json
    metrics: dict  # metrics.json
    history: pd.DataFrame  # history.csv
    folder: Path
    summary: dict | None = None  # an experiment's summary.json (None for a single run)
    runs: list[FinishedRun] = field(default_factory=list)  # an experiment's runs, one a seed

    @property
    def cfg(self) -> dict:
        return self.trained["config"]


def seed_fix(name: str, seed: int) -> str:
    """What to do about a missing or broken run of experiment `name` at `seed`."""
    return (f"run `cnnlab train {name} --seed {seed}` and `cnnlab evaluate {name} --seed {seed}`, then "
            f"`cnnlab summarize {name}` (each with the same --set values)")


def read_seed_runs(out_dir: Path, name: str, seeds: list[int], cfg: dict | None = None) -> list[FinishedRun]:
    """train.json, metrics.json and history.csv of the run of each of `seeds` in experiment `name`'s
    folder `out_dir`, checked to be `name`'s; with `cfg`, each trained with its seed's recipe."""
    runs = []
    for seed in seeds:
        folder, fix = layout.run_folder(out_dir, seed), seed_fix(name, seed)
        trained = (read_train_json(folder, fix) if cfg is None
                   else read_train_record(folder, run_config(cfg, seed), fix))  # and its recipe
        check_owner(folder, trained["experiment"], {"name": name})
        runs.append(FinishedRun(name, trained, read_metrics_json(folder, fix), read_history(folder, fix),
                                folder))
    return runs


SUMMARY_KEYS = ("experiment", "seeds", "n", "test_acc", "val_acc", "labs_best_test_acc", "test_loss",
                "test_size", "test_acc_binomial_se")


def read_history(folder: Path, fix: str) -> pd.DataFrame:
    return read_csv(folder / "history.csv", HISTORY_COLUMNS, fix, numeric=True, finite=HISTORY_FINITE)


def read_replicates(folder: Path, name: str, fix: str) -> FinishedRun:
    """An experiment's folder as one FinishedRun: its summary.json, each of its seeds' runs (`runs`),
    the means over the seeds as `metrics`, and the first seed's record and history."""
    summary = read_json(folder / "summary.json", SUMMARY_KEYS, fix)
    if summary["experiment"] != name or not isinstance(summary["seeds"], list) or not summary["seeds"]:
        raise CnnlabError(f"{folder / 'summary.json'} is not a summary of {name}'s runs; {fix}")
    runs = read_seed_runs(folder, name, summary["seeds"])
    first = runs[0]
    means = {key: (summary[key] or {}).get("mean") for key in ("test_acc", "val_acc", "labs_best_test_acc",
                                                                  "test_loss")}
    metrics = {**first.metrics, **means}
    return FinishedRun(name, first.trained, metrics, first.history, folder, summary, runs)


def read_evaluation_tables(folder: Path, fix: str, with_predictions: bool = True) -> dict[str, pd.DataFrame]:
    """per_class.csv, confusion.csv (indexed by the actual class) and, with `with_predictions`,
    predictions.csv. An experiment's folder has the first two, its runs' counts added up."""
    # class names stay text: MNIST's "0".."9" must not turn into numbers
    tables = {
        "per_class": read_csv(folder / "per_class.csv", PER_CLASS_COLUMNS, fix, dtype={"class": str}),
        "confusion": read_csv(folder / "confusion.csv", ["actual"], fix,
                              dtype={"actual": str}).set_index("actual"),
    }
    classes = list(tables["per_class"]["class"])
    confusion = tables["confusion"]
    if list(confusion.index) != classes or list(confusion.columns) != classes:
        raise CnnlabError(f"{folder / 'confusion.csv'} does not have one row and one column for each class "
                          f"of per_class.csv ({', '.join(classes)}); {fix}")
    if with_predictions:
        tables["predictions"] = read_csv(folder / "predictions.csv", PREDICTION_COLUMNS, fix,
                                         dtype={"actual": str, "predicted": str})
    return tables
