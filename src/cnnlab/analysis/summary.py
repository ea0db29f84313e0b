"""`cnnlab summarize EXP`: an experiment's runs together, one row a seed, and their statistics.

Writes into the experiment's folder: summary.json (what `dvc metrics diff` compares: for each
measure n, mean, sample SD, 95 % t interval of the mean, min, max, and `interval`: how that interval
may be reported, cnnlab.analysis.statistics.interval_kind; ci_low and ci_high stay the plain t interval even
where it leaves 0-1, then `interval` is "range"), seeds.csv (one row a seed),
curves.csv (history.csv's figures per epoch, averaged over the seeds: what `dvc plots` draws),
per_class.csv and confusion.csv (the runs' counts added up: the same columns as one run's).
"""

import math
from pathlib import Path

import pandas as pd

from cnnlab.analysis.statistics import ACCURACY, binomial_se, describe, interval_kind
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_json, atomic_write_text, atomic_write_with, held_folder
from cnnlab.results.records import (
    HISTORY_COLUMNS,
    PER_CLASS_COLUMNS,
    check_owner,
    experiment_folder_owner,
    read_evaluation_tables,
    read_seed_runs,
    seed_fix,
)
from cnnlab.text import count

# The measures of metrics.json that are summarised over seeds.
MEASURES = ("test_acc", "val_acc", "labs_best_test_acc", "test_loss", "shifted_test_acc")
SEEDS_COLUMNS = ["seed", *MEASURES, "best_epoch", "wall_seconds", "images_per_sec", "test_size"]
BOUNDS = {"test_loss": (0.0, math.inf)}  # what each measure can be: the others are accuracies


def summarize(cfg: dict, out_dir: Path) -> dict:
    out_dir = Path(out_dir)
    with held_folder(out_dir):
        per_seed, curves, per_class, confusion = read_runs(cfg, out_dir)
        summary = summary_record(cfg, per_seed)
        atomic_write_with(out_dir / "seeds.csv", lambda p: per_seed.to_csv(p, index=False))
        atomic_write_with(out_dir / "curves.csv", lambda p: curves.to_csv(p, index=False))
        atomic_write_with(out_dir / "per_class.csv", lambda p: per_class.to_csv(p, index=False))
        atomic_write_with(out_dir / "confusion.csv", lambda p: confusion.to_csv(p))
        atomic_write_json(out_dir / "summary.json", summary)  # last: its presence means all is written
    return summary


def read_runs(cfg: dict, out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """seeds.csv's table, the mean curves, and the per-class and confusion counts of every run added up."""
    runs = read_seed_runs(out_dir, cfg["name"], cfg["seeds"], cfg)
    rows, per_class, confusion = [], [], None
    for seed, run in zip(cfg["seeds"], runs):
        tables = read_evaluation_tables(run.folder, seed_fix(cfg["name"], seed))
        # .get: a run evaluated before shifted_test_acc existed lacks it; it counts as missing
        rows.append({"seed": seed, **{m: run.metrics.get(m) for m in MEASURES},
                     "best_epoch": run.metrics["best_epoch"],
                     "wall_seconds": round(run.trained["wall_seconds"], 2),
                     "images_per_sec": round(run.trained["images_per_sec"], 1),
                     "test_size": run.trained["test_size"]})
        per_class.append(tables["per_class"])
        confusion = tables["confusion"] if confusion is None else confusion + tables["confusion"]
    counts = pd.concat(per_class).groupby("class", sort=False)[["correct", "total"]].sum().reset_index()
    counts["accuracy"] = (counts["correct"] / counts["total"].where(counts["total"] > 0)).round(6)
    spread = pd.concat(per_class).groupby("class", sort=False)["accuracy"].agg(["std", "min", "max"])
    counts = counts.join(spread.add_prefix("accuracy_").round(6), on="class")
    if list(counts.columns[:4]) != PER_CLASS_COLUMNS:
        raise CnnlabError(f"{out_dir}: per_class.csv of the runs do not match; evaluate them again")
    curves = pd.concat(run.history for run in runs).groupby("epoch", as_index=False).mean().round(6)
    return pd.DataFrame(rows, columns=SEEDS_COLUMNS), curves, counts, confusion


def summarize_left_out(name: str, out_dir: Path, why: str) -> None:
    """The summary files of an experiment that is not in the study, as DVC's summary stage needs
    them (cnnlab.pipeline.left_out): the tables with their columns and no rows, summary.json saying `why`."""
    out_dir = Path(out_dir)
    check_owner(out_dir, experiment_folder_owner(out_dir), {"name": name})
    with held_folder(out_dir, create=True):
        for file, columns in [("seeds.csv", SEEDS_COLUMNS), ("curves.csv", HISTORY_COLUMNS),
                              ("per_class.csv", PER_CLASS_COLUMNS), ("confusion.csv", ["actual"])]:
            atomic_write_text(out_dir / file, ",".join(columns) + "\n")
        atomic_write_json(out_dir / "summary.json",
                          {"experiment": name, "seeds": [], "n": 0, "left_out": why})


def summary_record(cfg: dict, per_seed: pd.DataFrame) -> dict:
    """summary.json: the statistics of each measure over the seeds, and the test set's own error."""
    summary = {"experiment": cfg["name"], "seeds": [int(s) for s in per_seed["seed"]], "n": len(per_seed)}
    for measure in MEASURES:
        values = per_seed[measure].dropna()
        stats = describe(values.tolist(), BOUNDS.get(measure, ACCURACY)) if len(values) else None
        summary[measure] = stats and {k: round(v, 6) if isinstance(v, float) else v for k, v in stats.items()}
    test_size = int(per_seed["test_size"].iloc[0])
    summary["test_size"] = test_size
    summary["test_acc_binomial_se"] = round(binomial_se(summary["test_acc"]["mean"], test_size), 6)
    return summary


def summary_line(summary: dict) -> str:
    """`cnnlab summarize`'s line: the test accuracy over the seeds, with an interval only where
    statistics.interval_kind allows one (else the seeds' range, or why there is none)."""
    test, seeds = summary["test_acc"], count(summary["test_acc"]["n"], "seed")
    kind = test.get("interval") or interval_kind(test, ACCURACY)  # a summary.json from before `interval`
    line = f"{summary['experiment']}: test accuracy {test['mean']:.4f}"
    if kind == "t":
        return (line + f" ± {test['sd']:.4f} SD, 95 % interval {test['ci_low']:.4f}-{test['ci_high']:.4f} "
                f"over {seeds}")
    if kind == "range":
        return (line + f" ± {test['sd']:.4f} SD over {seeds}; they range {test['min']:.4f}-"
                f"{test['max']:.4f}, too far apart for a 95 % interval inside 0-1")
    if kind == "no spread":
        return line + f" over {seeds} that agree exactly: no interval from fewer than three seeds"
    return line + f" over {seeds}"
