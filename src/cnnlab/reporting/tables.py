"""The study's tables: summary.csv (one row per evaluated experiment, mean and 95 % interval over
its seeds), reproduction.csv (our runs next to each published number, with a verdict and its
reason) and comparisons.csv (the study's claims as paired differences over seeds). summary.csv's
test_acc_interval and comparisons.csv's interval say how each interval may be reported
(cnnlab.analysis.statistics.interval_kind); the ci columns stay the plain t interval."""

import pandas as pd

from cnnlab.analysis import statistics
from cnnlab.results.records import FinishedRun

REPRODUCED, BELOW, ABOVE, ONE_SEED, NOT_COMPARABLE, NO_REFERENCE = (
    "reproduced", "ours below", "ours above", "one seed", "not comparable", "no reference")
SELECTED = "test accuracy, checkpoint chosen on validation"  # what `ours` is, unless said otherwise
# Keys that may differ from params.yaml in a run that still follows the recipe: another seed is
# another sample of it, and epochs are matched against each reference on their own.
NOT_RECIPE = {"epochs", "seed", "seeds"}

SUMMARY_COLUMNS = ["experiment", "dataset", "model", "scale", "parameters", "flops_per_image", "epochs",
                   "seeds", "test_acc", "test_acc_sd", "test_acc_ci_low", "test_acc_ci_high", "test_acc_min",
                   "test_acc_max", "binomial_se", "labs_best_test_acc", "train_seconds", "images_per_sec",
                   "peak_memory_mb", "train_size", "test_size", "device", "precision", "data_verified",
                   "test_acc_interval"]
REPRODUCTION_COLUMNS = ["experiment", "scale", "epochs", "kind", "reference", "at_least", "rounding",
                        "reference_epochs", "note", "n", "ours", "ours_low", "ours_high", "ours_measure",
                        "difference", "sds", "verdict", "reason"]
COMPARISON_COLUMNS = ["comparison", "a", "b", "measure", "n", "mean_diff", "ci_low", "ci_high", "t_p",
                      "wilcoxon_p", "p_a_greater", "differences", "min_diff", "max_diff", "interval"]

SUMMARY_NOTE = (
    "One row per evaluated experiment. Test accuracy is of the checkpoint chosen on a validation split "
    "held out of the training set; the labs instead keep the epoch that scores best on the test set, "
    "which flatters the number (shown for comparison). FLOPs: forward pass of one image, a multiply-add "
    "counts 2. Training time: wall clock of the training epochs with their validation and test passes. "
    "Peak memory: the process's peak resident set on CPU, peak tensor memory on CUDA.")
REPRODUCTION_NOTE = (
    "Our test accuracy (mean over the seeds) next to the published numbers of STUDY.md: the lab's text, "
    "the original source, and the lab's own code run on this project's machines; Δ = our mean minus the "
    "reference, in percentage points (pp). {rule} ours above / ours below: the reference lies outside "
    "that interval, our runs above or below it (by how many of our SDs). "
    "not comparable: this run is not the reference's setting (smoke scale, fewer epochs than the "
    "reference, a changed recipe, or a source that does not state its epochs); the difference is "
    "shown but means nothing. Where a reference was measured after fewer epochs than this run has, "
    "ours is read from the same run's history at that epoch. All rows: results/reproduction.csv.")


def seed_runs(run: FinishedRun) -> list[FinishedRun]:
    """An experiment's runs, one a seed (a lone run stands for itself)."""
    return run.runs or [run]


def summary_table(runs: list[FinishedRun]) -> pd.DataFrame:
    rows = []
    for run in runs:
        t, seeds = run.trained, seed_runs(run)
        test = statistics.describe([r.metrics["test_acc"] for r in seeds], statistics.ACCURACY)
        rows.append({
            "experiment": run.name, "dataset": t["dataset"], "model": t["model"], "scale": run.cfg["scale"],
            "parameters": t["parameters"], "flops_per_image": t["flops_per_image"], "epochs": t["epochs"],
            "seeds": len(seeds), "test_acc": test["mean"], "test_acc_sd": test["sd"],
            "test_acc_ci_low": test["ci_low"], "test_acc_ci_high": test["ci_high"],
            "test_acc_min": test["min"], "test_acc_max": test["max"],
            "binomial_se": statistics.binomial_se(test["mean"], t["test_size"]),
            "labs_best_test_acc": sum(r.metrics["labs_best_test_acc"] for r in seeds) / len(seeds),
            "train_seconds": mean_of(seeds, "wall_seconds"),
            "images_per_sec": mean_of(seeds, "images_per_sec"),
            "peak_memory_mb": max(r.trained["peak_memory_mb"] for r in seeds), "train_size": t["train_size"],
            "test_size": t["test_size"], "device": t["device"], "precision": t["precision"],
            "data_verified": all(r.trained["data_verified"] for r in seeds),
            "test_acc_interval": test["interval"],  # how the interval may be reported (statistics)
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS).round(6)


def mean_of(seeds: list[FinishedRun], key: str) -> float:
    """The mean of train.json's `key` over the seeds' runs."""
    return sum(r.trained[key] for r in seeds) / len(seeds)


def comparison_table(params: dict, runs: list[FinishedRun]) -> pd.DataFrame:
    """The study's claims (params.yaml `comparisons`: A − B) whose two experiments have results,
    then, per experiment, the labs' best-on-test number against the validation-selected one: paired
    over the common seeds."""
    by_name = {run.name: run for run in runs}
    pairs = [(claim["title"], by_name[claim["a"]], "test_acc", by_name[claim["b"]], "test_acc")
             for claim in params.get("comparisons", []) if claim["a"] in by_name and claim["b"] in by_name]
    pairs += [(f"{run.name}: best epoch on test (the labs') vs chosen on validation", run,
               "labs_best_test_acc", run, "test_acc") for run in runs]
    return paired_table(pairs)


def paired_table(pairs: list[tuple[str, FinishedRun, str, FinishedRun, str]]) -> pd.DataFrame:
    """One row per (title, A, A's measure, B, B's measure): A − B paired over their common seeds."""
    rows = []
    for title, a, a_measure, b, b_measure in pairs:
        result = statistics.paired(per_seed(a, a_measure), per_seed(b, b_measure))
        measure = "test_acc" if a_measure == b_measure else f"{a_measure} − {b_measure}"
        rows.append({"comparison": title, "a": a.name, "b": b.name, "measure": measure,
                     **{k: result[k] for k in COMPARISON_COLUMNS[4:] if k != "differences"},
                     "differences": " ".join(f"{d:+.4f}" for d in result["differences"])})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).round(6)


def per_seed(run: FinishedRun, measure: str) -> dict[int, float]:
    return {r.cfg["seed"]: r.metrics[measure] for r in seed_runs(run)}


def reproduction_table(params: dict, runs: list[FinishedRun], references: dict) -> pd.DataFrame:
    """One row per (experiment, reference); experiments without a reference get one row."""
    rows = []
    for run in runs:
        base = {"experiment": run.name, "scale": run.cfg["scale"], "epochs": run.trained["epochs"],
                "n": len(seed_runs(run)), "ours": run.metrics["test_acc"]}
        entries = references["experiments"].get(run.name, [])
        if not entries:
            rows.append({**base, "ours_measure": SELECTED, "verdict": NO_REFERENCE,
                         "reason": "STUDY.md gives no published number for this experiment"})
        for entry in entries:
            rows.append({**base, **compare(params, run, entry)})
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS).astype({"reference_epochs": "Int64"})


def rounding(value: float) -> float:
    """The rounding of a published accuracy, from the percent as written: 0.98 ("98 %") -> 0.01,
    0.977 ("97.7 %") -> 0.001, 0.9905 ("99.05 %") -> 0.0001."""
    written = f"{value * 100:g}"
    decimals = len(written.partition(".")[2])
    return 10 ** -(decimals + 2)


def compare(params: dict, run: FinishedRun, entry: dict) -> dict:
    """Our runs' numbers for this reference, the difference of their mean, and the verdict with its
    reason (cnnlab.analysis.statistics.verdict: the reference against our prediction interval)."""
    ref_epochs = entry.get("epochs")
    row = {"kind": entry["kind"], "reference": entry["value"], "at_least": bool(entry.get("at_least")),
           "rounding": rounding(entry["value"]), "reference_epochs": ref_epochs,
           "note": entry.get("note", ""),
           "ours_measure": SELECTED}
    values = [r.metrics["test_acc"] for r in seed_runs(run)]
    reason = incomparability(params, run, ref_epochs)
    if reason is None and ref_epochs < run.trained["epochs"]:  # the same runs, read at that epoch
        at = [r.history.loc[r.history["epoch"] == ref_epochs, "test_acc"] for r in seed_runs(run)]
        if any(epoch.empty for epoch in at):
            reason = f"history.csv has no epoch {ref_epochs}"
        else:
            values = [float(epoch.iloc[0]) for epoch in at]
            row["ours_measure"] = f"test accuracy after epoch {ref_epochs} (history.csv)"
    row["ours"] = sum(values) / len(values)
    row["difference"] = round(row["ours"] - entry["value"], 6)
    if reason is not None:
        return {**row, "verdict": NOT_COMPARABLE, "reason": reason}
    judged = statistics.verdict(entry["value"], values, row["rounding"], floor=row["at_least"])
    row.update(ours_low=judged["low"], ours_high=judged["high"], sds=judged["sds"])
    if judged["verdict"] == ONE_SEED:
        reason = "one seed gives no interval: run more seeds for a verdict"
    elif row["at_least"]:
        reason = f"the reference claims at least {entry['value']:.2%}"
    else:
        inside = judged["low"] <= entry["value"] <= judged["high"]
        reason = (f"{entry['value']:.2%} is {'inside' if inside else 'outside'} our interval "
                  f"{judged['low']:.2%}-{judged['high']:.2%}")
    return {**row, "verdict": judged["verdict"], "reason": reason}


def incomparability(params: dict, run: FinishedRun, ref_epochs: int | None) -> str | None:
    """Why this run cannot stand for the reference's recipe, or None when it can."""
    cfg = run.cfg
    if reduced_scale(params, cfg):
        settings = ", ".join(f"{k} {cfg.get(k)}" for k in params["scales"][cfg["scale"]])
        return f"{cfg['scale']} scale ({settings}): a check that the pipeline runs, not a reproduction"
    recipe = dict(params["experiments"].get(run.name, {}), val_size=params["data"]["val_size"])
    changed = [f"{k} {recipe[k]!r} -> {cfg.get(k)!r}" for k in recipe
               if k not in NOT_RECIPE and cfg.get(k) != recipe[k]]
    if changed:
        return f"recipe differs from params.yaml: {'; '.join(changed)}"
    if ref_epochs is None:
        return "the source does not state its number of epochs (its recipe differs from the lab's)"
    if ref_epochs > run.trained["epochs"]:
        return f"the reference is after {ref_epochs} epochs, this run trained {run.trained['epochs']}"
    return None


def reduced_scale(params: dict, cfg: dict) -> bool:
    """Smoke and the like: a scale that cuts the recipe down (subsets, fewer epochs)."""
    return bool(params["scales"].get(cfg["scale"]))
