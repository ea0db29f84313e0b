"""`cnnlab plot EXP`: one evaluated experiment's figures, into results/EXP/plots/<name>.png.

Each figure is declared once, by `@CHARTS.figure(name, caption, applies)` on its drawing function;
`plot_names(cfg)` lists those that apply to an experiment, in report order.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.errors import CnnlabError
from cnnlab.io import held_folder
from cnnlab.reporting.experiment_images import IMAGE_FIGURES
from cnnlab.reporting.experiment_inputs import FigureInputs, read_inputs
from cnnlab.reporting.gallery import Gallery
from cnnlab.reporting.style import (
    few_points,
    save,
    seed_band,
    seed_histories,
    seeds_note,
    styled,
    within_possible_values,
)
from cnnlab.results import layout
from cnnlab.results.records import FinishedRun

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}

CHARTS = Gallery()  # an experiment's numbers drawn; `applies` gets the experiment's config


def plot_names(cfg: dict) -> list[str]:
    """The figures `plot_experiment` makes for `cfg` (file stems under plots/), in report order."""
    return FIGURES.names_for(cfg)


def plot_experiment(cfg: dict, out_dir: Path) -> list[Path]:
    """Draw one evaluated experiment's figures into `out_dir`/plots/; returns their paths."""
    out_dir = Path(out_dir)
    if not (out_dir / "summary.json").is_file():
        raise CnnlabError(f"{out_dir}/summary.json is missing; run `cnnlab summarize {cfg['name']}` first")
    with held_folder(out_dir, also_clean=(layout.PLOTS,)):
        inputs = read_inputs(cfg, out_dir)
        return [save(FIGURES[name].draw(inputs), out_dir / layout.PLOTS / f"{name}.png")
                for name in plot_names(cfg)]


@CHARTS.figure("curves", caption=(
    "Loss and accuracy per epoch on the training split (averaged over the epoch's batches, "
    "while the model still learned), the validation split held out of the training set, and "
    "the test split (both measured at the end of the epoch). Each line is the mean over the "
    "experiment's seeds; the band around it is the 95 % interval of that mean (a t interval over "
    "the seeds; no band with one seed). The dotted lines mark the epochs whose checkpoints were "
    "kept, the best on validation, with the seeds that kept each. A run of one epoch has no curve: "
    "its three losses and accuracies are shown as bars (the mean over the seeds) with the same "
    "interval as error bars and a dot for each seed."))
def curves_figure(inputs: FigureInputs) -> Figure:
    """Loss and accuracy per epoch on the three splits, a band over the seeds; the validation-selected
    epochs marked."""
    history, n_seeds = inputs.run.history, len(inputs.runs)
    if len(history) == 1:
        return one_epoch_figure(inputs)
    long = long_history(inputs.runs)
    with styled():
        fig = Figure(figsize=(11, 4.4), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, metric, label in zip(axes, ("loss", "acc"),
                                     ("loss (mean cross-entropy per image, nats)", "accuracy (%)")):
            sns.lineplot(data=long[long["metric"] == metric], x="epoch", y="value", hue="split",
                         style="split", markers=few_points(history), dashes=False,
                         errorbar=seed_band(n_seeds), ax=ax)
            for epoch, seeds in selected_epochs(inputs.runs).items():
                which = f" ({'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))})"
                ax.axvline(epoch, color="0.4", linestyle=":", linewidth=1.2,
                           label=f"selected on validation: epoch {epoch}" + (which if n_seeds > 1 else ""))
            ax.set(xlabel="epoch", ylabel=label)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set_xlim(0.5, history["epoch"].max() + 0.5)
            ax.get_legend().remove()
        within_possible_values(*axes)
        axes[0].set_title("loss")
        axes[1].set_title("accuracy")
        fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=4)
        fig.suptitle(f"{inputs.title}: training curves\n{seeds_note(n_seeds)}", fontsize="medium")
    return fig


def long_history(runs: list[FinishedRun]) -> pd.DataFrame:
    """Every seed's history as rows of seed, epoch, split (train, validation, test), metric (loss,
    acc) and value (accuracies in %)."""
    long = seed_histories(runs).melt(id_vars=["seed", "epoch"],
                                     value_vars=[f"{s}_{m}" for s in SPLITS for m in ("loss", "acc")])
    long[["split", "metric"]] = long["variable"].str.split("_", expand=True)
    long["split"] = long["split"].map(SPLIT_NAMES)
    long.loc[long["metric"] == "acc", "value"] *= 100
    return long


def selected_epochs(runs: list[FinishedRun]) -> dict[int, list[int]]:
    """The epochs whose checkpoints were kept -> the seeds that kept each."""
    epochs = {}
    for run in runs:
        epochs.setdefault(int(run.trained["best_epoch"]), []).append(run.cfg["seed"])
    return dict(sorted(epochs.items()))


def one_epoch_figure(inputs: FigureInputs) -> Figure:
    """A run of one epoch has no curve: its train, validation and test loss and accuracy as bars
    (the mean over the seeds) with the interval of the mean and a dot for each seed."""
    n_seeds = len(inputs.runs)
    long = long_history(inputs.runs)
    with styled():
        fig = Figure(figsize=(11, 4.8), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, metric, label, fmt in zip(axes, ("loss", "acc"),
                                          ("loss (mean cross-entropy per image, nats)", "accuracy (%)"),
                                          ("%.3f", "%.2f %%")):
            frame = long[long["metric"] == metric]
            sns.barplot(data=frame, x="split", y="value", hue="split", errorbar=seed_band(n_seeds),
                        err_kws={"color": "0.2", "linewidth": 1.5}, capsize=0.15, alpha=0.8, ax=ax)
            if n_seeds > 1:  # spread evenly, not jittered at random: the same PNG every time
                for position, (_, split) in enumerate(frame.groupby("split", sort=False)):
                    ax.scatter(position + np.linspace(-0.12, 0.12, len(split)), split["value"], color="0.15",
                               s=16, zorder=3)
            for bars in ax.containers:
                ax.bar_label(bars, fmt=fmt, label_type="center", fontsize="small")
            ax.set(xlabel=None, ylabel=label, title="loss" if metric == "loss" else "accuracy")
        axes[1].set_ylim(0, 105)
        spread = "" if n_seeds == 1 else "; dots: each seed"
        fig.suptitle(f"{inputs.title}\nloss and accuracy after its only epoch (one epoch: no curve to draw), "
                     f"{seeds_note(n_seeds, 'error bars')}{spread}\n"
                     "train: averaged over the epoch's batches; validation and test: measured at its end",
                     fontsize="medium")
    return fig


@CHARTS.figure("per_class", caption=(
    "Test accuracy of the kept checkpoints for each class (dots): the test images of that class "
    "classified right by all seeds' models together, labelled with correct / test images added up "
    "over the seeds; the whisker runs from the lowest to the highest seed (none with one seed). "
    "The dashed line is the accuracy over all classes. When every class is above 50 %, the axis "
    "starts just below the lowest class (or its lowest seed), not at 0, so that 97.6 % and 99.8 % "
    "can be told apart: the x-axis label says where it starts."))
def per_class_figure(inputs: FigureInputs) -> Figure:
    """One dot per class on an axis zoomed to the classes' range (dots, not bars: a bar on an axis
    that does not start at 0 would have a length that means nothing), each labelled correct/total,
    with a whisker from the lowest to the highest seed."""
    per_class, n_seeds = inputs.tables["per_class"], len(inputs.runs)
    test_acc = per_class["correct"].sum() / per_class["total"].sum()
    percent = per_class["accuracy"] * 100
    lowest, highest = per_class["accuracy_min"] * 100, per_class["accuracy_max"] * 100
    start = accuracy_axis_start(min(percent.min(), lowest.min()))
    rows = range(len(per_class))
    with styled():
        fig = Figure(figsize=(8, 0.38 * len(per_class) + 1.8), layout="constrained")
        ax = fig.subplots()
        if n_seeds > 1:
            ax.hlines(rows, lowest, highest, color=sns.color_palette()[0], linewidth=1.5, alpha=0.6,
                      zorder=2, gid="seed range")
        ax.scatter(percent, rows, s=50, color=sns.color_palette()[0], zorder=3)
        for row, correct, total in zip(rows, per_class["correct"], per_class["total"]):
            ax.annotate(f"{correct}/{total}", xy=(1, row), xycoords=("axes fraction", "data"),
                        xytext=(6, 0), textcoords="offset points", va="center", fontsize="small")
        ax.axvline(test_acc * 100, color="0.3", linestyle="--", linewidth=1, zorder=1)
        ax.set_yticks(rows, per_class["class"])
        ax.set_ylim(len(per_class) - 0.5, -0.5)
        ax.set_xlim(start, 100 + (100 - start) * 0.02)
        where = f"the axis starts at {start:g} %, not at 0" if start > 0 else "the axis starts at 0"
        added = "" if n_seeds == 1 else ", all seeds added up"
        ax.set(xlabel=f"test accuracy (%); {where}  [right: correct / test images of the class{added}]",
               ylabel="class")
        seeds = ("1 seed" if n_seeds == 1
                 else f"{n_seeds} seeds together; whiskers: the lowest to the highest seed")
        ax.set_title(f"{inputs.title}\nper-class test accuracy, {seeds}\n"
                     f"(dashed line: all classes, {test_acc:.2%})")
    return fig


def accuracy_axis_start(lowest: float) -> float:
    """0 while some class is at 50 % or below; above, a whole percent a little below the lowest class."""
    if lowest <= 50:
        return 0
    return math.floor(lowest - 0.25 * (100 - lowest) - 0.5)


@CHARTS.figure("confusion", caption=(
    "Confusion matrix of the kept checkpoint on the test set: rows are the actual classes, "
    "columns the predicted ones. Numbers are image counts; the colour is the share of the "
    "row, so rare and common classes read alike. The diagonal is what was right."))
def confusion_figure(inputs: FigureInputs) -> Figure:
    """Colour = share of the actual class (row-normalised), text = image count."""
    confusion = inputs.tables["confusion"]
    totals = confusion.sum(axis=1).replace(0, np.nan)
    shares = confusion.div(totals, axis=0).fillna(0)
    with styled("white"):
        fig = Figure(figsize=(8.5, 7), layout="constrained")
        ax = fig.subplots()
        sns.heatmap(shares * 100, annot=confusion.to_numpy(), fmt="d", cmap="Blues", vmin=0, vmax=100,
                    square=True, linewidths=0.5, linecolor="white", annot_kws={"fontsize": 8},
                    cbar_kws={"label": "share of the actual class (%)", "shrink": 0.8}, ax=ax)
        ax.set(xlabel="predicted class", ylabel="actual class")
        if max(map(len, confusion.columns)) > 3:  # long class names would overlap side by side
            ax.tick_params(axis="x", labelrotation=45)
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_title(f"{inputs.title}\nconfusion matrix on the test set (counts; colour row-normalised)")
    return fig



FIGURES = Gallery.joined(CHARTS, IMAGE_FIGURES)  # the charts first, then the images
