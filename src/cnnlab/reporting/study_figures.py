"""The comparisons across experiments, into results/figures/<name>.png (made by `cnnlab report`).

Each figure is declared once, by `@STUDY_FIGURES.figure(name, caption, applies)` on its drawing
function; `applies` gets the names of the experiments with results.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from cnnlab.config import count
from cnnlab.reporting.gallery import Gallery
from cnnlab.reporting.style import DATASET_MARKERS, DATASET_TITLES, few_points, save, styled
from cnnlab.reporting.tables import NOT_COMPARABLE
from cnnlab.results import FinishedRun

# The E2/E2b grid and the E3/E4 pair that the study figures compare.
MLP_CNN_GRID = {("MLP", "original"): "mlp_mnist", ("CNN", "original"): "cnn_mnist",
                ("MLP", "permuted"): "mlp_mnist_permuted", ("CNN", "permuted"): "cnn_mnist_permuted"}
CURVE_PAIR = ("vgg_cifar10", "resnet18_cifar10")

STUDY_FIGURES = Gallery()  # `applies` gets the names of the experiments with results


@dataclass
class StudyInputs:
    """What the study's figures are drawn from: the report's tables and each run's history."""

    summary: pd.DataFrame  # summary.csv
    reproduction: pd.DataFrame  # reproduction.csv
    experiments: dict[str, FinishedRun]  # experiment -> its runs together (.runs: one a seed)

    @property
    def histories(self) -> dict[str, pd.DataFrame]:
        """experiment -> the first seed's history.csv"""
        return {name: experiment.history for name, experiment in self.experiments.items()}


def plot_study(inputs: StudyInputs, out_dir: Path) -> dict[str, Path]:
    """The comparisons across experiments into `out_dir`. A comparison is drawn when one of its
    experiments has results (its title names the others); with none, its figure is left out (and an
    older one removed)."""
    drawn = STUDY_FIGURES.names_for(set(inputs.summary["experiment"]))
    made = {}
    for name, kind in STUDY_FIGURES.items():
        path = Path(out_dir) / f"{name}.png"
        if name in drawn:
            made[name] = save(kind.draw(inputs), path)
        else:
            path.unlink(missing_ok=True)
    return made


def compares(experiments):
    """`applies` of a comparison: drawn when one of `experiments` has results."""
    return lambda present: bool(set(experiments) & present)


def missing_note(wanted, present) -> str:
    """A title's second line naming the compared experiments that have no results yet."""
    missing = [name for name in wanted if name not in present]
    return f"\n(not run yet: {', '.join(missing)})" if missing else ""


# The published numbers' kinds (references.yaml): their marker and name in the reproduction figure.
REFERENCE_MARKERS = {"lab": ("s", "the lab's text"), "source": ("^", "the original source"),
                     "lab_code_here": ("D", "the lab's code, run here")}
FLOOR_MARKER = "$\\geq$"  # a claimed floor ("98%+") is "at least" this value, not a measurement


@STUDY_FIGURES.figure("reproduction", caption=(
    "One line per comparison of the reproduction table: a published number (coloured marker) and "
    "the number of ours it is compared with (black dot), joined by a line. Where a reference was "
    "measured after fewer epochs than our run has, our dot is the same run after that epoch, so "
    "every line compares like with like. A claimed floor (\"98%+\") is drawn as \u2265 with a band "
    "shaded up to 100 %, not as a measurement. Hollow markers and grey labels are comparisons that "
    "mean nothing (smoke scale, another recipe, more epochs than ours, or unstated epochs): the "
    "reproduction table says why."))
def reproduction_figure(inputs: StudyInputs) -> Figure:
    """Each (experiment, reference) row of reproduction.csv on its own line: the reference next to
    the number of ours the table compares it with; floors as floors; not comparable ones hollow."""
    rows = inputs.reproduction.reset_index(drop=True)
    palette = dict(zip(REFERENCE_MARKERS, sns.color_palette("deep", 4)[1:]))
    with styled():
        fig = Figure(figsize=(12, 0.38 * len(rows) + 2.4), layout="constrained")
        ax = fig.subplots()
        for y, row in rows.iterrows():
            draw_comparison(ax, y, row, palette)
        ax.set_yticks(range(len(rows)), [comparison_label(row) for _, row in rows.iterrows()],
                      fontsize="small")
        for label, verdict in zip(ax.get_yticklabels(), rows["verdict"]):
            if verdict == NOT_COMPARABLE:
                label.set_color("0.45")
        for y in rows.index[1:][rows["experiment"].to_numpy()[1:] != rows["experiment"].to_numpy()[:-1]]:
            ax.axhline(y - 0.5, color="0.75", linewidth=0.8)  # between experiments
        ax.grid(axis="y", visible=False)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set(xlabel="test accuracy (%)", ylabel=None)
        fig.legend(handles=reproduction_legend(rows, palette), loc="outside lower center", ncols=2,
                   fontsize="small")
        ax.set_title("our results next to the published numbers, one line per comparison")
    return fig


def draw_comparison(ax, y: int, row: pd.Series, palette: dict) -> None:
    """One reproduction.csv row on line `y`: ours (as the table measures it) and its reference."""
    comparable = row["verdict"] != NOT_COMPARABLE
    ours = row["ours"] * 100
    ax.scatter([ours], [y], s=55, facecolors="black" if comparable else "none", edgecolors="black",
               zorder=3, gid="ours")
    if pd.isna(row["reference"]):
        return
    reference, color = row["reference"] * 100, palette[row["kind"]]
    ax.plot([ours, reference], [y, y], color="0.55", linewidth=1, linestyle="-" if comparable else ":",
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
    handles = [Line2D([], [], linestyle="none", marker="o", color="black",
                      label="ours, as the table compares it (at the reference's epoch where ours has more)")]
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


@STUDY_FIGURES.figure("mlp_vs_cnn", applies=compares(MLP_CNN_GRID.values()), caption=(
    "mlp_mnist, cnn_mnist and their _permuted twins: test accuracy of an MLP and a CNN of "
    "about the same size (6,442 vs 6,422 parameters), trained for one epoch on MNIST as it is"
    " and on MNIST with every image's pixels shuffled by the same fixed permutation. The "
    "CNN's lead comes from locality; shuffling destroys it while the MLP, which never used "
    "it, barely changes."))
def mlp_vs_cnn_figure(inputs: StudyInputs) -> Figure:
    """E2/E2b: MLP vs CNN of the same size, on original and on permuted pixels."""
    by_name = inputs.summary.set_index("experiment")
    cells = [{"model": f"{model} ({by_name.loc[name, 'parameters']:,} parameters)", "model_kind": model,
              "pixels": "original order" if order == "original" else "permuted (one fixed shuffle)",
              "accuracy": by_name.loc[name, "test_acc"] * 100}
             for (model, order), name in MLP_CNN_GRID.items() if name in by_name.index]
    with styled():
        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.subplots()
        if cells:
            frame = pd.DataFrame(cells).sort_values("model_kind", ascending=False, kind="stable")
            sns.barplot(data=frame, x="pixels", y="accuracy", hue="model",
                        order=["original order", "permuted (one fixed shuffle)"], ax=ax)
            for bars in ax.containers:
                ax.bar_label(bars, fmt="%.1f %%", padding=2, fontsize="small")
            ax.get_legend().remove()
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
        ax.set(ylim=(0, 105), xlabel="pixel order of the images", ylabel="test accuracy (%)")
        ax.set_title("MLP vs CNN with about 6,400 parameters each, with and without shuffled pixels"
                     + missing_note(MLP_CNN_GRID.values(), by_name.index))
    return fig


@STUDY_FIGURES.figure("vgg_vs_resnet", applies=compares(CURVE_PAIR), caption=(
    "vgg_cifar10 vs resnet18_cifar10: per-epoch loss and accuracy of the lab's VGG and of "
    "ResNet-18 on CIFAR-10, training split (solid, averaged over the epoch's augmented "
    "batches) and test split (dashed, measured at the end of each epoch)."))
def curve_pair_figure(inputs: StudyInputs) -> Figure:
    """E3 vs E4: train and test curves of VGG and ResNet-18 overlaid."""
    histories = inputs.histories
    frames = []
    for name in CURVE_PAIR:
        if name in histories:
            h = histories[name]
            for split in ("train", "test"):
                frames.append(pd.DataFrame({"epoch": h["epoch"], "experiment": name, "split": split,
                                            "loss": h[f"{split}_loss"], "accuracy": h[f"{split}_acc"] * 100}))
    with styled():
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, metric, label in zip(axes, ("loss", "accuracy"),
                                     ("loss (mean cross-entropy per image, nats)", "accuracy (%)")):
            if frames:
                sns.lineplot(data=pd.concat(frames), x="epoch", y=metric, hue="experiment",
                             style="split", markers=few_points(max(frames, key=len)), ax=ax)
                ax.get_legend().remove()
                ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set(xlabel="epoch", ylabel=label, title=metric)
        if frames:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=6,
                       fontsize="small")
        fig.suptitle("VGG (the lab's, with BatchNorm) vs ResNet-18 on CIFAR-10, per epoch"
                     + missing_note(CURVE_PAIR, histories))
    return fig


@STUDY_FIGURES.figure("accuracy_vs_cost", caption=(
    "Test accuracy against three costs: parameters, forward FLOPs per image (a multiply-add "
    "counts 2), and wall-clock training time on this run's machine. One row of panels per "
    "dataset (accuracies on different datasets do not compare), one colour per experiment; "
    "log scales, each column's cost axis shared across the rows."))
def cost_figure(inputs: StudyInputs) -> Figure:
    """Test accuracy against parameters, FLOPs per image and training time (log scales), a row per dataset."""
    costs = {"parameters": "parameters (count, log scale)",
             "flops_per_image": "forward FLOPs per image (log scale)",
             "train_seconds": "training time (s, log scale)"}
    frame = inputs.summary.assign(accuracy=inputs.summary["test_acc"] * 100)
    datasets = list(dict.fromkeys(frame["dataset"]))  # in catalog order, as the summary lists them
    with styled():
        fig = Figure(figsize=(15, 3.6 * len(datasets) + 0.8), layout="constrained")
        grid = fig.subplots(len(datasets), 3, sharex="col", sharey="row", squeeze=False)
        for axes, dataset in zip(grid, datasets):
            part = frame[frame["dataset"] == dataset]
            colors = dict(zip(part["experiment"], sns.color_palette("deep", len(part))))
            for ax, column in zip(axes, costs):
                for run in part.itertuples():
                    ax.scatter(getattr(run, column), run.accuracy, s=80, color=colors[run.experiment],
                               marker=DATASET_MARKERS[dataset], label=run.experiment)
                ax.set_xscale("log")
            axes[0].set_ylabel(f"{DATASET_TITLES[dataset]}\ntest accuracy (%)")
            axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
        for ax, label in zip(grid[-1], costs.values()):  # the cost axes are shared down each column
            ax.set_xlabel(label)
        fig.suptitle("accuracy against cost, one row per dataset "
                     "(test accuracy of the checkpoint chosen on validation)")
    return fig
