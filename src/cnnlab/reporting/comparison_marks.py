"""What the study figures draw for one comparison: a reproduction.csv row as a line (ours, a dot a
seed, their interval, and the published number), an MLP and a CNN joined seed by seed, their labels
and legend. study_figures.py lays them out into figures."""

import re

import pandas as pd
from matplotlib.lines import Line2D

from cnnlab.analysis.statistics import ACCURACY, describe, paired
from cnnlab.reporting.intervals import difference_interval, pp
from cnnlab.reporting.language import ENGLISH  # the figures' labels are in English
from cnnlab.reporting.style import drawn_interval
from cnnlab.reporting.tables import NOT_COMPARABLE, seed_runs
from cnnlab.results.records import FinishedRun
from cnnlab.text import count

# The published numbers' kinds (references.yaml): their marker and name in the reproduction figure.
REFERENCE_MARKERS = {"lab": ("s", "the lab's text"), "source": ("^", "the original source"),
                     "lab_code_here": ("D", "the lab's code, run here")}
FLOOR_MARKER = "$\\geq$"  # a claimed floor ("98%+") is "at least" this value, not a measurement

def compared_values(experiment: FinishedRun, row: pd.Series) -> list[float]:
    """Each seed's number that the row compares with its reference: the test accuracy of the kept
    checkpoint, or the history's test accuracy at epoch N where the table reads ours "after epoch N"."""
    after = re.search(r"after epoch (\d+)", row["ours_measure"])
    if after is None:
        return [run.metrics["test_acc"] for run in seed_runs(experiment)]
    epoch = int(after.group(1))
    return [float(run.history.loc[run.history["epoch"] == epoch, "test_acc"].iloc[0])
            for run in seed_runs(experiment)]


def draw_comparison(ax, y: int, row: pd.Series, values: list[float], palette: dict) -> None:
    """One reproduction.csv row on line `y`: ours (a dot a seed, their mean and its interval) and its
    reference."""
    comparable = row["verdict"] != NOT_COMPARABLE
    mean, interval = describe(values)["mean"] * 100, drawn_interval(values, ACCURACY)
    if interval is not None:
        ax.plot([interval[0] * 100, interval[1] * 100], [y, y], color="black", linewidth=2.5,
                solid_capstyle="butt", zorder=2, gid="interval")
    ax.scatter([mean], [y], s=55, facecolors="black" if comparable else "none", edgecolors="black",
               zorder=3, gid="ours")
    ax.scatter([v * 100 for v in values], [y] * len(values), s=14, edgecolors="0.3", linewidths=0.6,
               facecolors="0.55" if comparable else "none", zorder=4, gid="seed")
    if pd.isna(row["reference"]):
        return
    reference, color = row["reference"] * 100, palette[row["kind"]]
    ax.plot([mean, reference], [y, y], color="0.55", linewidth=1, linestyle="-" if comparable else ":",
            zorder=1)
    if row["at_least"]:  # "98%+": everything from the floor up to 100 % fulfils the claim
        ax.barh(y, 100 - reference, left=reference, height=0.55, color=color, alpha=0.25, linewidth=0,
                gid="floor")
        ax.scatter([reference], [y], marker=FLOOR_MARKER, s=110, color=color, zorder=2, gid="floor")
    else:
        ax.scatter([reference], [y], marker=REFERENCE_MARKERS[row["kind"]][0], s=50,
                   facecolors=color if comparable else "none", edgecolors=color, zorder=2, gid="reference")


def comparison_label(row: pd.Series) -> str:
    """A line's label: the experiment, the reference's kind and after how many epochs."""
    if pd.isna(row["reference"]):
        return f"{row['experiment']}: no published number"
    epochs = ("epochs not stated" if pd.isna(row["reference_epochs"])
              else f"after {count(int(row['reference_epochs']), 'epoch')}")
    label = f"{row['experiment']}: {REFERENCE_MARKERS[row['kind']][1]}, {epochs}"
    return label + (" (not comparable)" if row["verdict"] == NOT_COMPARABLE else "")


def reproduction_legend(rows: pd.DataFrame, palette: dict) -> list:
    """Legend entries for what the figure shows, and nothing else."""
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=4, markerfacecolor="0.55",
                      markeredgecolor="0.3", label="ours, one seed, as the table compares it "
                      "(at the reference's epoch where ours has more)"),
               Line2D([], [], marker="o", color="black", linewidth=2.5,
                      label="ours: the seeds' mean and its 95 % interval")]
    references = rows.dropna(subset=["reference"])
    for kind, (marker, name) in REFERENCE_MARKERS.items():
        if (references["kind"][~references["at_least"].astype(bool)] == kind).any():
            handles.append(Line2D([], [], linestyle="none", marker=marker, color=palette[kind], label=name))
    if references["at_least"].astype(bool).any():
        handles.append(Line2D([], [], linestyle="none", marker=FLOOR_MARKER, markersize=10, color="0.3",
                              label='a claimed floor ("98%+"): at least this value, shaded up to 100 %'))
    if (rows["verdict"] == NOT_COMPARABLE).any():
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                              markeredgecolor="black", label="hollow: not comparable (the table says why)"))
    return handles

def seed_accuracies(experiment: FinishedRun) -> dict[int, float]:
    """seed -> test accuracy (%) of that seed's run."""
    return {run.cfg["seed"]: run.metrics["test_acc"] * 100 for run in seed_runs(experiment)}

def draw_pairs(ax, accuracies: dict[str, dict[int, float]], colors: dict) -> None:
    """A grey line per seed from its MLP (x = 0) to its CNN (x = 1), and each model's mean with its
    interval."""
    mlp, cnn = accuracies.get("MLP", {}), accuracies.get("CNN", {})
    for seed in sorted(mlp.keys() & cnn.keys()):
        ax.plot([0, 1], [mlp[seed], cnn[seed]], color="0.6", linewidth=1, marker="o", markersize=4,
                zorder=2, gid="pair")
    for x, model in enumerate(("MLP", "CNN")):
        if model not in accuracies:
            continue
        values = list(accuracies[model].values())
        ax.scatter([x] * len(values), values, s=16, color="0.4", zorder=3, gid="seed")
        summary, interval = describe(values), drawn_interval(values)
        if interval is not None:
            ax.plot([x, x], interval, color=colors[model], linewidth=3,
                    solid_capstyle="butt", zorder=4, gid="interval")
        ax.scatter([x], [summary["mean"]], s=90, marker="D", color=colors[model], edgecolors="white",
                   zorder=5, gid="mean")
        ax.annotate(f"{summary['mean']:.1f} %", xy=(x, summary["mean"]), xytext=(-12 if x == 0 else 12, 0),
                    textcoords="offset points", ha="right" if x == 0 else "left", va="center",
                    fontsize="small", color=colors[model])


def paired_note(accuracies: dict[str, dict[int, float]]) -> str:
    """CNN minus MLP over the seeds both have: the mean difference, its interval, how often the CNN won."""
    if len(accuracies) < 2:
        return "(one model has no results yet)"
    comparison = paired(*({seed: v / 100 for seed, v in accuracies[m].items()} for m in ("CNN", "MLP")))
    if comparison["n"] == 0:
        return "(no seed in common)"
    note = f"CNN \u2212 MLP: {pp(comparison['mean_diff'])}"
    if comparison["n"] == 1:
        return note + " (1 seed)"
    wins = comparison["p_a_greater"] * comparison["n"]
    return (note + f" (95 % interval: {difference_interval(pd.Series(comparison), ENGLISH)})\n"
            f"CNN ahead in {wins:g} of {count(comparison['n'], 'seed')}")
