"""The study's tables: summary.csv (one row per evaluated experiment) and reproduction.csv (our
test accuracy next to each published number, with a verdict and its reason)."""

import pandas as pd

from cnnlab.results import FinishedRun

REPRODUCED, BELOW, ABOVE, NOT_COMPARABLE, NO_REFERENCE = (
    "reproduced", "below", "above", "not comparable", "no reference")
# Keys that may differ from params.yaml in a run that still follows the recipe: another seed is
# another sample of it, and epochs are matched against each reference on their own.
NOT_RECIPE = {"epochs", "seed"}

SUMMARY_COLUMNS = ["experiment", "dataset", "model", "scale", "parameters", "flops_per_image", "epochs",
                   "best_epoch", "test_acc", "labs_best_test_acc", "labs_best_epoch", "train_seconds",
                   "images_per_sec", "peak_memory_mb", "train_size", "test_size", "device", "precision",
                   "data_verified"]
REPRODUCTION_COLUMNS = ["experiment", "scale", "epochs", "kind", "reference", "at_least", "reference_epochs",
                        "note", "ours", "ours_measure", "difference", "tolerance", "verdict", "reason"]

SUMMARY_NOTE = (
    "One row per evaluated experiment. Test accuracy is of the checkpoint chosen on a validation split "
    "held out of the training set; the labs instead keep the epoch that scores best on the test set, "
    "which flatters the number (shown for comparison). FLOPs: forward pass of one image, a multiply-add "
    "counts 2. Training time: wall clock of the training epochs with their validation and test passes. "
    "Peak memory: the process's peak resident set on CPU, peak tensor memory on CUDA.")
REPRODUCTION_NOTE = (
    "Our test accuracy next to the published numbers of STUDY.md: the lab's text, the original source, "
    "and the lab's own code run on this project's machines; Δ = ours minus the reference, in percentage "
    "points (pp). Verdicts use the tolerance stated in references.yaml{tolerance}. reproduced: within "
    "it; below / above: outside it (for a claim like \"98%+\" only below counts). "
    "not comparable: this run is not the reference's setting (smoke scale, fewer epochs than the "
    "reference, a changed recipe, or a source that does not state its epochs); the difference is "
    "shown but means nothing. Where a reference was measured after fewer epochs than this run has, "
    "ours is read from the same run's history at that epoch. All rows: results/reproduction.csv.")


def summary_table(runs: list[FinishedRun]) -> pd.DataFrame:
    rows = []
    for run in runs:
        t, m = run.trained, run.metrics
        rows.append({
            "experiment": run.name, "dataset": t["dataset"], "model": t["model"], "scale": run.cfg["scale"],
            "parameters": t["parameters"], "flops_per_image": t["flops_per_image"], "epochs": t["epochs"],
            "best_epoch": m["best_epoch"], "test_acc": m["test_acc"],
            "labs_best_test_acc": m["labs_best_test_acc"], "labs_best_epoch": m["labs_best_epoch"],
            "train_seconds": round(t["wall_seconds"], 2), "images_per_sec": round(t["images_per_sec"], 1),
            "peak_memory_mb": round(t["peak_memory_mb"], 1), "train_size": t["train_size"],
            "test_size": t["test_size"], "device": t["device"], "precision": t["precision"],
            "data_verified": t["data_verified"],
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def reproduction_table(params: dict, runs: list[FinishedRun], references: dict) -> pd.DataFrame:
    """One row per (experiment, reference); experiments without a reference get one row."""
    tolerance = references["tolerance"]
    rows = []
    for run in runs:
        base = {"experiment": run.name, "scale": run.cfg["scale"], "epochs": run.trained["epochs"],
                "ours": run.metrics["test_acc"], "tolerance": tolerance}
        entries = references["experiments"].get(run.name, [])
        if not entries:
            rows.append({**base, "ours_measure": selected_measure(run), "verdict": NO_REFERENCE,
                         "reason": "STUDY.md gives no published number for this experiment"})
        for entry in entries:
            rows.append({**base, **compare(params, run, entry, tolerance)})
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS).astype({"reference_epochs": "Int64"})


def selected_measure(run: FinishedRun) -> str:
    return f"test accuracy, checkpoint of epoch {run.metrics['best_epoch']} chosen on validation"


def compare(params: dict, run: FinishedRun, entry: dict, tolerance: float) -> dict:
    """Our number for this reference, the difference, and the verdict with its reason."""
    ref_epochs = entry.get("epochs")
    row = {"kind": entry["kind"], "reference": entry["value"], "at_least": bool(entry.get("at_least")),
           "reference_epochs": ref_epochs, "note": entry.get("note", ""),
           "ours": run.metrics["test_acc"], "ours_measure": selected_measure(run)}
    reason = incomparability(params, run, ref_epochs)
    if reason is None and ref_epochs < run.trained["epochs"]:  # the same run, read at that epoch
        at = run.history.loc[run.history["epoch"] == ref_epochs, "test_acc"]
        if at.empty:
            reason = f"history.csv has no epoch {ref_epochs}"
        else:
            row["ours"] = float(at.iloc[0])
            row["ours_measure"] = f"test accuracy after epoch {ref_epochs} (history.csv)"
    row["difference"] = round(row["ours"] - entry["value"], 6)
    if reason is not None:
        return {**row, "verdict": NOT_COMPARABLE, "reason": reason}
    if row["at_least"]:
        verdict = REPRODUCED if row["difference"] >= -tolerance else BELOW
        reason = f"the reference claims at least {entry['value']:.2%}"
    else:
        within = abs(row["difference"]) <= tolerance
        verdict = REPRODUCED if within else (BELOW if row["difference"] < 0 else ABOVE)
        reason = f"|difference| {'<=' if verdict == REPRODUCED else '>'} tolerance {tolerance:.2%}"
    return {**row, "verdict": verdict, "reason": reason}


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
