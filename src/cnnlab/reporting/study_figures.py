"""The comparisons across experiments, into results/figures/<name>.png (made by `cnnlab report`).

Each figure is declared once, by `@STUDY_FIGURES.figure(name, caption, applies)` on its drawing
function; `applies` gets the names of the experiments with results.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.reporting.gallery import Gallery
from cnnlab.reporting.style import DATASET_MARKERS, few_points, save, styled

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
    histories: dict[str, pd.DataFrame]  # experiment -> history.csv


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


@STUDY_FIGURES.figure("reproduction", caption=(
    "Our test accuracy (black dots; checkpoint chosen on validation) next to the published "
    "numbers for the same experiment. Hollow markers are references this run cannot be "
    "compared with (smoke scale, other epochs, or a changed recipe): the reproduction table "
    "says why."))
def reproduction_figure(inputs: StudyInputs) -> Figure:
    """Our test accuracy next to every published number, one row per experiment; each kind of
    number on its own line within the row so none hides another; hollow = not comparable."""
    reproduction = inputs.reproduction
    kinds = {"lab": ("s", "the lab's text"), "source": ("^", "the original source"),
             "lab_code_here": ("D", "the lab's code, run here")}
    offsets = dict(zip(["ours", *kinds], (-0.27, -0.09, 0.09, 0.27)))
    experiments = list(dict.fromkeys(reproduction["experiment"]))
    rows = {name: i for i, name in enumerate(experiments)}
    palette = dict(zip(kinds, sns.color_palette("deep", 4)[1:]))
    with styled():
        fig = Figure(figsize=(10, 0.6 * len(experiments) + 2.4), layout="constrained")
        ax = fig.subplots()
        ours = reproduction.drop_duplicates("experiment")
        ax.scatter(ours["ours"] * 100, ours["experiment"].map(rows) + offsets["ours"], s=60, color="black",
                   label="ours (test accuracy, checkpoint chosen on validation)")
        refs = reproduction.dropna(subset=["reference"])
        for kind, (marker, label) in kinds.items():
            part = refs[refs["kind"] == kind]
            comparable = part["verdict"] != "not comparable"
            y = part["experiment"].map(rows) + offsets[kind]
            for shown, style, suffix in ((comparable, {"color": palette[kind]}, ""),
                                         (~comparable, {"facecolors": "none", "edgecolors": palette[kind]},
                                          " (not comparable with this run)")):
                if shown.any():  # no legend entry for markers that are not there
                    ax.scatter(part["reference"][shown] * 100, y[shown], marker=marker, s=50,
                               label=label + suffix, **style)
        ax.set_yticks(range(len(experiments)), experiments)
        for boundary in range(len(experiments) - 1):
            ax.axhline(boundary + 0.5, color="0.85", linewidth=0.8)
        ax.grid(axis="y", visible=False)
        ax.set_ylim(len(experiments) - 0.5, -0.5)
        ax.set(xlabel="test accuracy (%)", ylabel=None)
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
        ax.set_title("our results next to the published numbers")
    return fig


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
    "counts 2), and wall-clock training time on this run's machine. Log scales; one colour "
    "per experiment, one marker per dataset."))
def cost_figure(inputs: StudyInputs) -> Figure:
    """Test accuracy against parameters, FLOPs per image and training time (log scales)."""
    costs = {"parameters": "parameters (count, log scale)",
             "flops_per_image": "forward FLOPs per image (log scale)",
             "train_seconds": "training time (s, log scale)"}
    frame = inputs.summary.assign(accuracy=inputs.summary["test_acc"] * 100)
    with styled():
        fig = Figure(figsize=(14, 4.8), layout="constrained")
        axes = fig.subplots(1, 3, sharey=True)
        for ax, (column, label) in zip(axes, costs.items()):
            sns.scatterplot(data=frame, x=column, y="accuracy", hue="experiment", style="dataset",
                            markers=DATASET_MARKERS, s=80, ax=ax)
            ax.set_xscale("log")
            ax.set(xlabel=label, ylabel="test accuracy (%)")
            ax.get_legend().remove()
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=6,
                   fontsize="small")
        fig.suptitle("accuracy against cost (test accuracy of the checkpoint chosen on validation)")
    return fig
