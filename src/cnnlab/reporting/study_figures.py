"""The comparisons across experiments, into results/figures/<name>.png (made by `cnnlab report`).

Each figure is declared once, by `@STUDY_FIGURES.figure(name, caption, applies)` on its drawing
function; `applies` gets its StudyInputs. The experiments a comparison draws are named in
params.yaml (`figures:` by the figure's name); its caption's {fields} are their places there.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.reporting.comparison_marks import (
    REFERENCE_MARKERS,
    compared_values,
    comparison_label,
    draw_comparison,
    draw_pairs,
    paired_note,
    reproduction_legend,
    seed_accuracies,
)
from cnnlab.reporting.gallery import Gallery
from cnnlab.reporting.style import (
    DATASET_MARKERS,
    DATASET_TITLES,
    few_points,
    possible_percent,
    save,
    seed_band,
    seed_histories,
    seeds_note,
    styled,
    within_possible_values,
)
from cnnlab.reporting.tables import NOT_COMPARABLE, seed_runs
from cnnlab.results.records import FinishedRun

# The two factors of the mlp_vs_cnn figure, as params.yaml's figures.mlp_vs_cnn names them: a
# panel per order of the pixels, the MLP and the CNN side by side in each.
MODELS, PIXEL_ORDERS = ("MLP", "CNN"), ("original", "permuted")

STUDY_FIGURES = Gallery()  # `applies` gets the StudyInputs


@dataclass
class StudyInputs:
    """What the study's figures are drawn from: the report's tables and each experiment's runs."""

    summary: pd.DataFrame  # summary.csv
    reproduction: pd.DataFrame  # reproduction.csv
    experiments: dict[str, FinishedRun]  # experiment -> its runs together (.runs: one a seed)
    figures: dict  # params.yaml `figures`: the experiments each comparison draws, by its name


def plot_study(inputs: StudyInputs, out_dir: Path) -> dict[str, Path]:
    """The comparisons across experiments into `out_dir`. A comparison is drawn when one of its
    experiments has results (its title names the others); with none, its figure is left out (and an
    older one removed)."""
    drawn = STUDY_FIGURES.names_for(inputs)
    made = {}
    for name, kind in STUDY_FIGURES.items():
        path = Path(out_dir) / f"{name}.png"
        if name in drawn:
            made[name] = save(kind.draw(inputs), path)
        else:
            path.unlink(missing_ok=True)
    return made


def named_experiments(declared) -> list[str]:
    """The experiments in a figure's part of params.yaml's `figures` (a name, or a mapping of them)."""
    if isinstance(declared, str):
        return [declared]
    return [name for part in declared.values() for name in named_experiments(part)]


def compares(figure: str):
    """`applies` of a comparison: drawn when one of the experiments params.yaml names for `figure`
    has results (never where it names none)."""
    return lambda inputs: any(name in inputs.experiments
                              for name in named_experiments(inputs.figures.get(figure, {})))


def study_caption(caption: str, name: str, params: dict) -> str:
    """Figure `name`'s caption (in any language) with the experiments that params.yaml's `figures`
    names for it in its {fields}."""
    return caption.format_map(params.get("figures", {}).get(name, {}))


def missing_note(wanted, present) -> str:
    """A title's second line naming the compared experiments that have no results yet."""
    missing = [name for name in wanted if name not in present]
    return f"\n(not run yet: {', '.join(missing)})" if missing else ""


@STUDY_FIGURES.figure("reproduction", caption=(
    "One line per comparison of the reproduction table: a published number (coloured marker) and "
    "ours: a small grey dot for each seed, the black dot their mean and the black bar the 95 % "
    "interval of that mean (none with one seed), the mean joined to the reference by a thin line. "
    "Where a reference was measured after fewer epochs than our run has, ours are the same runs "
    "after that epoch, so every line compares like with like. A claimed floor (\"98%+\") is drawn "
    "as \u2265 with a band shaded up to 100 %, not as a measurement. Hollow markers and grey labels "
    "are comparisons that mean nothing (smoke scale, another recipe, more epochs than ours, or "
    "unstated epochs): the reproduction table says why."))
def reproduction_figure(inputs: StudyInputs) -> Figure:
    """Each (experiment, reference) row of reproduction.csv on its own line: the reference next to
    the seeds' numbers of ours that the table compares it with; floors as floors; not comparable ones
    hollow."""
    rows = inputs.reproduction.reset_index(drop=True)
    palette = dict(zip(REFERENCE_MARKERS, sns.color_palette("deep", 4)[1:]))
    with styled():
        fig = Figure(figsize=(12, 0.38 * len(rows) + 2.6), layout="constrained")
        ax = fig.subplots()
        for y, row in rows.iterrows():
            draw_comparison(ax, y, row, compared_values(inputs.experiments[row["experiment"]], row), palette)
        ax.set_yticks(range(len(rows)), [comparison_label(row) for _, row in rows.iterrows()],
                      fontsize="small")
        for label, verdict in zip(ax.get_yticklabels(), rows["verdict"]):
            if verdict == NOT_COMPARABLE:
                label.set_color("0.45")
        for y in rows.index[1:][rows["experiment"].to_numpy()[1:] != rows["experiment"].to_numpy()[:-1]]:
            ax.axhline(y - 0.5, color="0.75", linewidth=0.8)  # between experiments
        ax.grid(axis="y", visible=False)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(*possible_percent(ax.get_xlim()))
        ax.set(xlabel="test accuracy (%)", ylabel=None)
        fig.legend(handles=reproduction_legend(rows, palette), loc="outside lower center", ncols=2,
                   fontsize="small")
        ax.set_title("our results next to the published numbers, one line per comparison")
    return fig


@STUDY_FIGURES.figure("mlp_vs_cnn", applies=compares("mlp_vs_cnn"), caption=(
    "{MLP[original]} and {CNN[original]}, and on shuffled pixels {MLP[permuted]} and {CNN[permuted]}: "
    "test accuracy of an MLP and a CNN of about the same size (6,442 vs 6,422 parameters), trained "
    "for one epoch on MNIST as it is (left) and on MNIST with every image's pixels shuffled by the "
    "same fixed permutation (right). "
    "A grey line joins the MLP and the CNN of the same seed (same seed, same data order and "
    "permutation); the coloured markers are the means over the seeds with their 95 % intervals, and "
    "each panel's title gives the paired difference CNN minus MLP. The CNN's lead comes from "
    "locality; shuffling destroys it while the MLP, which never used it, barely changes."))
def mlp_vs_cnn_figure(inputs: StudyInputs) -> Figure:
    """E2/E2b: MLP vs CNN of the same size, on original and on permuted pixels, paired by seed."""
    grid = mlp_cnn_grid(inputs)
    colors = dict(zip(MODELS, sns.color_palette()))
    with styled():
        fig = Figure(figsize=(10, 5.2), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, order, title in zip(axes, PIXEL_ORDERS,
                                    ("original pixel order", "permuted pixels (one fixed shuffle)")):
            accuracies = {model: seed_accuracies(inputs.experiments[grid[model, order]])
                          for model in MODELS if grid[model, order] in inputs.experiments}
            draw_pairs(ax, accuracies, colors)
            ax.set_xticks(range(2), [model_label(inputs, grid[model, order], model) for model in MODELS])
            ax.set_xlim(-0.5, 1.5)
            ax.set(xlabel=None, title=f"{title}\n{paired_note(accuracies)}")
        axes[0].set_ylim(*possible_percent(axes[0].get_ylim()))
        axes[0].set_ylabel("test accuracy (%)")
        fig.suptitle("MLP vs CNN with about 6,400 parameters each, with and without shuffled pixels\n"
                     "grey lines: the MLP and the CNN of one seed; markers: the mean over the seeds "
                     "and its 95 % interval" + missing_note(grid.values(), inputs.experiments),
                     fontsize="medium")
    return fig


def mlp_cnn_grid(inputs: StudyInputs) -> dict[tuple[str, str], str]:
    """(model, pixel order) -> its experiment, as params.yaml's figures.mlp_vs_cnn names them."""
    declared = inputs.figures["mlp_vs_cnn"]
    return {(model, order): declared[model][order] for order in PIXEL_ORDERS for model in MODELS}


def model_label(inputs: StudyInputs, name: str, model: str) -> str:
    """A tick label: the model and the parameter count of its experiment `name`, where it has results."""
    if name not in inputs.experiments:
        return f"{model}\n(not run yet)"
    return f"{model}\n({inputs.experiments[name].trained['parameters']:,} parameters)"


@STUDY_FIGURES.figure("vgg_vs_resnet", applies=compares("vgg_vs_resnet"), caption=(
    "{VGG} vs {ResNet-18}: per-epoch loss and accuracy of the lab's VGG and of "
    "ResNet-18 on CIFAR-10, training split (solid, averaged over the epoch's augmented "
    "batches) and test split (dashed, measured at the end of each epoch). Each line is the mean "
    "over the experiment's seeds, the band the 95 % interval of that mean (none with one seed)."))
def curve_pair_figure(inputs: StudyInputs) -> Figure:
    """E3 vs E4: train and test curves of VGG and ResNet-18 overlaid, a band over the seeds."""
    pair = named_experiments(inputs.figures["vgg_vs_resnet"])
    present = [name for name in pair if name in inputs.experiments]
    frames = []
    for name in present:
        history = seed_histories(seed_runs(inputs.experiments[name]))
        for split in ("train", "test"):
            frames.append(pd.DataFrame({"epoch": history["epoch"], "experiment": name, "split": split,
                                        "loss": history[f"{split}_loss"],
                                        "accuracy": history[f"{split}_acc"] * 100}))
    n_seeds = {name: len(seed_runs(inputs.experiments[name])) for name in present}
    with styled():
        fig = Figure(figsize=(11, 4.7), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, metric, label in zip(axes, ("loss", "accuracy"),
                                     ("loss (mean cross-entropy per image, nats)", "accuracy (%)")):
            if frames:
                sns.lineplot(data=pd.concat(frames), x="epoch", y=metric, hue="experiment", style="split",
                             markers=few_points(inputs.experiments[present[0]].history),
                             errorbar=seed_band(min(n_seeds.values())), ax=ax)
                ax.get_legend().remove()
                ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set(xlabel="epoch", ylabel=label, title=metric)
        if frames:
            within_possible_values(*axes)
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=6,
                       fontsize="small")
        notes = {name: seeds_note(n) for name, n in n_seeds.items()}
        seeds = (next(iter(notes.values())) if len(set(notes.values())) == 1
                 else ", ".join(f"{name}: {note}" for name, note in notes.items()))
        fig.suptitle("VGG (the lab's, with BatchNorm) vs ResNet-18 on CIFAR-10, per epoch\n" + seeds
                     + missing_note(pair, inputs.experiments), fontsize="medium")
    return fig


@STUDY_FIGURES.figure("accuracy_vs_cost", caption=(
    "Test accuracy against three costs: parameters, forward FLOPs per image (a multiply-add "
    "counts 2), and wall-clock training time on this run's machine. One row of panels per "
    "dataset (accuracies on different datasets do not compare), one colour per experiment; "
    "log scales, each column's cost axis shared across the rows. The accuracy is the mean over the "
    "experiment's seeds; the vertical bar through it is the 95 % interval of that mean (none with "
    "one seed)."))
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
                    if run.test_acc_interval == "t":  # an interval that says no more than the seeds
                        ax.plot([getattr(run, column)] * 2, [run.test_acc_ci_low * 100,
                                                             run.test_acc_ci_high * 100],
                                color=colors[run.experiment], linewidth=2, gid="interval")
                ax.set_xscale("log")
            axes[0].set_ylim(*possible_percent(axes[0].get_ylim()))  # shared along the row
            axes[0].set_ylabel(f"{DATASET_TITLES[dataset]}\ntest accuracy (%)")
            axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
        for ax, label in zip(grid[-1], costs.values()):  # the cost axes are shared down each column
            ax.set_xlabel(label)
        fig.suptitle("accuracy against cost, one row per dataset (test accuracy of the checkpoint chosen on "
                     "validation: the mean over the seeds, bars: 95 % interval of the mean)")
    return fig
