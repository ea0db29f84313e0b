"""The study's figures: `cnnlab plot EXP` (one experiment's) and the study-level comparisons.

Every figure is a PNG of DPI dots per inch, written atomically. Figures are matplotlib `Figure`
objects (no pyplot state to leak between figures) drawn in seaborn's style.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from cnnlab import transforms  # noqa: E402
from cnnlab.batches import CROP_PADDING, load_study_data  # noqa: E402
from cnnlab.errors import CnnlabError  # noqa: E402
from cnnlab.io import atomic_write_with, held_folder  # noqa: E402
from cnnlab.results import METRICS_KEYS, read_csv, read_json, read_train_record  # noqa: E402
from cnnlab.train import HISTORY_COLUMNS  # noqa: E402

DPI = 150
PER_CLASS_COLUMNS = ["class", "correct", "total", "accuracy"]  # what cnnlab evaluate writes
PREDICTION_COLUMNS = ["index", "actual", "predicted"]
SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
SAMPLE_COLUMNS = 8  # images per row in the image grids
FIRST_IMAGES = 16  # the sample grid shows the first test images ...
FIRST_MISTAKES = 16  # ... and the first misclassified ones
MIXUP_ALPHA, CUTMIX_ALPHA = 0.2, 1.0  # the companion tutorial's values (STUDY.md)
WRONG = "#c0392b"  # misclassified images are framed and titled in this red

# The E2/E2b grid and the E3/E4 pair that the study figures compare.
MLP_CNN_GRID = {("MLP", "original"): "mlp_mnist", ("CNN", "original"): "cnn_mnist",
                ("MLP", "permuted"): "mlp_mnist_permuted", ("CNN", "permuted"): "cnn_mnist_permuted"}
CURVE_PAIR = ("vgg_cifar10", "resnet18_cifar10")
# The study's figures and the experiments each compares (None: every one that ran).
STUDY_FIGURES = {"reproduction": None, "mlp_vs_cnn": tuple(MLP_CNN_GRID.values()),
                 "vgg_vs_resnet": CURVE_PAIR, "accuracy_vs_cost": None}


def plot_names(cfg: dict) -> list[str]:
    """The figures `plot_experiment` makes for `cfg` (file stems under plots/), in report order."""
    names = ["curves", "per_class", "confusion", "samples"]
    if cfg["permute"]:
        names.append("permutation")
    if cfg["dataset"] == "cifar10":
        names.append("augmentation")
    return names


def plot_experiment(cfg: dict, out_dir: Path) -> list[Path]:
    """Draw one evaluated experiment's figures into `out_dir`/plots/; returns their paths."""
    out_dir = Path(out_dir)
    if not (out_dir / "metrics.json").is_file():
        raise CnnlabError(f"{out_dir}/metrics.json is missing; run `cnnlab evaluate {cfg['name']}` first")
    with held_folder(out_dir, also_clean=("plots",)):
        return draw_experiment(cfg, out_dir)


def draw_experiment(cfg: dict, out_dir: Path) -> list[Path]:
    results = read_results(cfg, out_dir)
    data = load_study_data(cfg)
    if len(results["predictions"]) != len(data.test_y):
        raise CnnlabError(f"{out_dir}/predictions.csv has {len(results['predictions'])} rows but the test "
                          f"set has {len(data.test_y)} images; run `cnnlab evaluate {cfg['name']}` again")
    title = f"{cfg['name']}: {cfg['model']} on {DATASET_TITLES[cfg['dataset']]}"
    classes = list(data.info.classes)
    figures = {
        "curves": lambda: curves_figure(results["history"], results["train"]["best_epoch"], title),
        "per_class": lambda: per_class_figure(results["per_class"], results["metrics"]["test_acc"], title),
        "confusion": lambda: confusion_figure(results["confusion"], title),
        "samples": lambda: samples_figure(data.test_x, results["predictions"], title),
        "permutation": lambda: permutation_figure(data.test_x, data.test_y, classes, cfg["seed"], title),
        "augmentation": lambda: augmentation_figure(data.train_x, data.train_y, classes, cfg["seed"], title),
    }
    return [save(figures[name](), out_dir / "plots" / f"{name}.png") for name in plot_names(cfg)]


DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def read_results(cfg: dict, out_dir: Path) -> dict:
    """The files `cnnlab train` and `cnnlab evaluate` wrote, checked to belong to `cfg`."""
    fix = f"run `cnnlab train {cfg['name']}` and `cnnlab evaluate {cfg['name']}` again (same --set values)"
    return {
        "train": read_train_record(out_dir, cfg, fix),
        "metrics": read_json(out_dir / "metrics.json", METRICS_KEYS, fix),
        "history": read_csv(out_dir / "history.csv", HISTORY_COLUMNS, fix, numeric=True),
        # class names stay text: MNIST's "0".."9" must not turn into numbers
        "per_class": read_csv(out_dir / "per_class.csv", PER_CLASS_COLUMNS, fix, dtype={"class": str}),
        "confusion": read_csv(out_dir / "confusion.csv", ["actual"], fix,
                              dtype={"actual": str}).set_index("actual"),
        "predictions": read_csv(out_dir / "predictions.csv", PREDICTION_COLUMNS, fix,
                                dtype={"actual": str, "predicted": str}),
    }


def save(fig: Figure, path: Path) -> Path:
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=DPI))
    return path


@contextmanager
def styled(style: str = "whitegrid") -> Iterator[None]:
    """seaborn's look for the axes made inside, without changing matplotlib's global settings."""
    with sns.axes_style(style), sns.plotting_context("notebook", font_scale=0.9):
        yield


# ----------------------------------------------------------------------------- one experiment

def curves_figure(history: pd.DataFrame, best_epoch: int, title: str) -> Figure:
    """Loss and accuracy per epoch on the three splits; the validation-selected epoch marked."""
    long = history.melt(id_vars="epoch", value_vars=[f"{s}_{m}" for s in SPLITS for m in ("loss", "acc")])
    long[["split", "metric"]] = long["variable"].str.split("_", expand=True)
    long["split"] = long["split"].map(SPLIT_NAMES)
    long.loc[long["metric"] == "acc", "value"] *= 100
    with styled():
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, metric, label in zip(axes, ("loss", "acc"),
                                     ("loss (mean cross-entropy per image, nats)", "accuracy (%)")):
            sns.lineplot(data=long[long["metric"] == metric], x="epoch", y="value", hue="split",
                         style="split", markers=few_points(history), dashes=False, ax=ax)
            ax.axvline(best_epoch, color="0.4", linestyle=":", linewidth=1.2,
                       label=f"selected on validation (epoch {best_epoch})")
            ax.set(xlabel="epoch", ylabel=label)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set_xlim(0.5, history["epoch"].max() + 0.5)
            ax.get_legend().remove()
        axes[0].set_title("loss")
        axes[1].set_title("accuracy")
        fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=4)
        fig.suptitle(f"{title}: training curves")
    return fig


def few_points(history: pd.DataFrame) -> bool:
    """Mark every epoch while the markers stay apart (and a one-epoch run still shows a point)."""
    return len(history) <= 30


def per_class_figure(per_class: pd.DataFrame, test_acc: float, title: str) -> Figure:
    """Horizontal bars (long class names stay readable), each labelled correct/total."""
    frame = per_class.assign(percent=per_class["accuracy"] * 100)
    with styled():
        fig = Figure(figsize=(8, 0.38 * len(frame) + 1.6), layout="constrained")
        ax = fig.subplots()
        sns.barplot(data=frame, y="class", x="percent", orient="h", color=sns.color_palette()[0], ax=ax)
        ax.bar_label(ax.containers[0], labels=[f" {c}/{t}" for c, t in zip(frame["correct"], frame["total"])],
                     fontsize="small",
                     bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5})
        ax.axvline(test_acc * 100, color="0.3", linestyle="--", linewidth=1, zorder=1)
        ax.set(xlim=(0, 112), xlabel="test accuracy (%)  [labels: correct / test images of the class]",
               ylabel="class")
        ax.set_title(f"{title}\nper-class test accuracy (dashed line: all classes, {test_acc:.2%})")
    return fig


def confusion_figure(confusion: pd.DataFrame, title: str) -> Figure:
    """Colour = share of the actual class (row-normalised), text = image count."""
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
        ax.set_title(f"{title}\nconfusion matrix on the test set (counts; colour row-normalised)")
    return fig


def samples_figure(test_x: torch.Tensor, predictions: pd.DataFrame, title: str) -> Figure:
    """The first test images and the first misclassified ones, in test order; mistakes in red."""
    wrong = predictions[predictions["actual"] != predictions["predicted"]]
    chosen = sorted(set(predictions.index[:FIRST_IMAGES]) | set(wrong.index[:FIRST_MISTAKES]))
    rows = predictions.loc[chosen]
    captions = [f"#{r.index}\ntrue: {r.actual}\npred: {r.predicted}" for r in rows.itertuples()]
    mistakes = (rows["actual"] != rows["predicted"]).tolist()
    fig = image_grid(test_x[torch.tensor(rows["index"].tolist())], captions, mistakes)
    fig.suptitle(f"{title}: test images, true and predicted class\n"
                 f"(the first {FIRST_IMAGES} and the first {FIRST_MISTAKES} misclassified; "
                 f"misclassified in red, {sum(mistakes)} shown of {len(wrong)} in the test set)")
    return fig


def permutation_figure(test_x, test_y, classes, seed: int, title: str) -> Figure:
    """The same test images as the model sees them: original pixel order above, permuted below."""
    x = test_x[:SAMPLE_COLUMNS]
    permuted = transforms.permute_pixels(x, transforms.pixel_permutation(seed, x[0, 0].numel()))
    labels = [classes[i] for i in test_y[:SAMPLE_COLUMNS].tolist()]
    fig = image_grid(torch.cat([x, permuted]), labels * 2, row_labels=["original", "permuted"])
    fig.suptitle(f"{title}: the same test images before (top) and after (bottom)\n"
                 f"the fixed pixel permutation (seed {seed}) applied to every image")
    return fig


def augmentation_figure(train_x, train_y, classes, seed: int, title: str) -> Figure:
    """Real training images under each augmentation the CIFAR recipes can use."""
    x, y = train_x[:SAMPLE_COLUMNS], train_y[:SAMPLE_COLUMNS]
    generator = torch.Generator().manual_seed(seed)
    names = [classes[i] for i in y.tolist()]
    cropped = transforms.random_crop_flip(x, CROP_PADDING, generator)
    mixed, _, partner, lam = transforms.mixup(transforms.to_float(x), y, MIXUP_ALPHA, generator)
    cut, _, cut_partner, cut_lam = transforms.cutmix(x, y, CUTMIX_ALPHA, generator)
    captions = (
        names * 2
        + [f"{lam:.2f} {n}\n+ {1 - lam:.2f} {classes[p]}" for n, p in zip(names, partner.tolist())]
        + [f"{cut_lam:.2f} {n}\n+ {1 - cut_lam:.2f} {classes[p]}"
           for n, p in zip(names, cut_partner.tolist())]
    )
    images = torch.cat([x, cropped, (mixed * 255).round().to(torch.uint8), cut])
    fig = image_grid(images, captions, row_labels=[
        "original", f"random crop\n(padding {CROP_PADDING})\n+ flip",
        f"MixUp\n(alpha {MIXUP_ALPHA})", f"CutMix\n(alpha {CUTMIX_ALPHA})"])
    fig.suptitle(f"{title}: augmentations on real training images\n"
                 "(MixUp and CutMix: each image's label weight = the share of the image it contributes)")
    return fig


def image_grid(images: torch.Tensor, captions: list[str], marked: list[bool] | None = None,
               row_labels: list[str] | None = None) -> Figure:
    """uint8 images [N, C, H, W] in rows of SAMPLE_COLUMNS; `marked` ones framed and titled in red."""
    marked = marked or [False] * len(images)
    rows = -(-len(images) // SAMPLE_COLUMNS)
    lines = max(c.count("\n") for c in captions) + 1
    fig = Figure(figsize=(SAMPLE_COLUMNS * 1.6, rows * (1.5 + 0.17 * lines) + 0.9), layout="constrained")
    axes = fig.subplots(rows, SAMPLE_COLUMNS, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, image, caption, is_marked in zip(axes, images, captions, marked):
        if image.shape[0] == 1:
            ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=255)
        else:
            ax.imshow(image.permute(1, 2, 0).numpy())
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
        color = WRONG if is_marked else "0.8"
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(3 if is_marked else 0.5)
        ax.set_title(caption, fontsize=8, color=WRONG if is_marked else "black",
                     fontweight="bold" if is_marked else "normal")
    for row, label in enumerate(row_labels or []):
        axes[row * SAMPLE_COLUMNS].set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
    return fig


# ----------------------------------------------------------------------------- the whole study

def plot_study(summary: pd.DataFrame, histories: dict[str, pd.DataFrame], reproduction: pd.DataFrame,
               out_dir: Path) -> dict[str, Path]:
    """The comparisons across experiments into `out_dir`; `summary` and `reproduction` are the
    report's tables. A comparison is drawn when one of its experiments has results (its title names
    the others); with none, its figure is left out (and an older one removed)."""
    figures = {
        "reproduction": lambda: reproduction_figure(reproduction),
        "mlp_vs_cnn": lambda: mlp_vs_cnn_figure(summary),
        "vgg_vs_resnet": lambda: curve_pair_figure(histories),
        "accuracy_vs_cost": lambda: cost_figure(summary),
    }
    made = {}
    for name, compared in STUDY_FIGURES.items():
        path = Path(out_dir) / f"{name}.png"
        if compared is None or set(compared) & set(summary["experiment"]):
            made[name] = save(figures[name](), path)
        else:
            path.unlink(missing_ok=True)
    return made


def missing_note(wanted, present) -> str:
    """A title's second line naming the compared experiments that have no results yet."""
    missing = [name for name in wanted if name not in present]
    return f"\n(not run yet: {', '.join(missing)})" if missing else ""


def reproduction_figure(reproduction: pd.DataFrame) -> Figure:
    """Our test accuracy next to every published number, one row per experiment; each kind of
    number on its own line within the row so none hides another; hollow = not comparable."""
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


def mlp_vs_cnn_figure(summary: pd.DataFrame) -> Figure:
    """E2/E2b: MLP vs CNN of the same size, on original and on permuted pixels."""
    by_name = summary.set_index("experiment")
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


def curve_pair_figure(histories: dict[str, pd.DataFrame]) -> Figure:
    """E3 vs E4: train and test curves of VGG and ResNet-18 overlaid."""
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


def cost_figure(summary: pd.DataFrame) -> Figure:
    """Test accuracy against parameters, FLOPs per image and training time (log scales)."""
    costs = {"parameters": "parameters (count, log scale)",
             "flops_per_image": "forward FLOPs per image (log scale)",
             "train_seconds": "training time (s, log scale)"}
    frame = summary.assign(accuracy=summary["test_acc"] * 100)
    markers = dict(zip(DATASET_TITLES, ("o", "s", "^")))
    with styled():
        fig = Figure(figsize=(14, 4.8), layout="constrained")
        axes = fig.subplots(1, 3, sharey=True)
        for ax, (column, label) in zip(axes, costs.items()):
            sns.scatterplot(data=frame, x=column, y="accuracy", hue="experiment", style="dataset",
                            markers=markers, s=80, ax=ax)
            ax.set_xscale("log")
            ax.set(xlabel=label, ylabel="test accuracy (%)")
            ax.get_legend().remove()
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=6,
                   fontsize="small")
        fig.suptitle("accuracy against cost (test accuracy of the checkpoint chosen on validation)")
    return fig
