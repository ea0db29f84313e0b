"""What every figure shares: seaborn's look, image grids, dataset titles, the spread over seeds, and
saving a PNG.

Figures are matplotlib `Figure` objects (no pyplot state to leak between figures), each written
atomically at DPI dots per inch.
"""

from __future__ import annotations  # image_grid's annotation names torch without importing it

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from cnnlab.analysis.statistics import describe
from cnnlab.data.catalog import DATASETS
from cnnlab.io import atomic_write_with
from cnnlab.results.records import FinishedRun

if TYPE_CHECKING:  # `cnnlab report` draws no images and needs no torch (seconds to import)
    import torch

DPI = 150
SAMPLE_COLUMNS = 8  # images per row in the image grids
WRONG = "#c0392b"  # misclassified images are framed and titled in this red
# How figures and the report name each dataset, and its marker in the study's scatter plots.
# From the datasets' declarations (cnnlab.data.catalog).
DATASET_TITLES = {name: info.title for name, info in DATASETS.items()}
DATASET_MARKERS = {name: info.marker for name, info in DATASETS.items()}
PERCENT = (0.0, 100.0)  # what an accuracy in percent can be


def save(fig: Figure, path: Path) -> Path:
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=DPI))
    return path


@contextmanager
def styled(style: str = "whitegrid") -> Iterator[None]:
    """seaborn's look for the axes made inside, without changing matplotlib's global settings."""
    with sns.axes_style(style), sns.plotting_context("notebook", font_scale=0.9):
        yield


def few_points(history: pd.DataFrame) -> bool:
    """Mark every epoch while the markers stay apart."""
    return len(history) <= 30


def seed_histories(runs: list[FinishedRun]) -> pd.DataFrame:
    """Every seed's history.csv in one table, with a `seed` column."""
    return pd.concat([run.history.assign(seed=run.cfg["seed"]) for run in runs], ignore_index=True)


def mean_interval(values) -> tuple[float, float]:
    """The 95 % t interval of the mean of `values` (one per seed): seaborn's `errorbar` for bands."""
    summary = describe(values)
    return summary["ci_low"], summary["ci_high"]


def drawn_interval(values, bounds: tuple[float, float] = PERCENT) -> tuple[float, float] | None:
    """The 95 % t interval of the mean of `values` where a figure may draw it (interval_kind "t"); None
    where it would leave what the value can be, or rests on fewer than three seeds that agree exactly."""
    summary = describe(values, bounds)
    return (summary["ci_low"], summary["ci_high"]) if summary["interval"] == "t" else None


def seed_band(n_seeds: int):
    """seaborn's `errorbar` over `n_seeds` seeds: the interval of the mean, none for one seed."""
    return mean_interval if n_seeds > 1 else None


def seeds_note(n_seeds: int, spread: str = "band") -> str:
    """What a figure of means shows: 'mean of 5 seeds (band: 95 % interval of the mean)', or '1 seed'."""
    if n_seeds == 1:
        return "1 seed"
    return f"mean of {n_seeds} seeds ({spread}: 95 % interval of the mean)"


def possible_percent(limits: tuple[float, float]) -> tuple[float, float]:
    """An accuracy axis's limits cut at what an accuracy can be, 0-100 %: the 95 % interval of few
    seeds can reach far beyond."""
    low, high = limits
    return max(low, 0), min(high, 101)


def within_possible_values(loss_ax, accuracy_ax) -> None:
    """Cut wide bands at what a loss (no less than 0) and an accuracy (0-100 %) can be."""
    loss_ax.set_ylim(bottom=max(loss_ax.get_ylim()[0], 0))
    accuracy_ax.set_ylim(*possible_percent(accuracy_ax.get_ylim()))


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
