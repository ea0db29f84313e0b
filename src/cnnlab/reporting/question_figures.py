"""One figure per question of params.yaml's `questions`: results/figures/question_<qid>.png, drawn by
`cnnlab report` and shown with its answer (report.html, report.md).

- Every question: the test accuracy after each epoch of the base and its variants (the mean over the
  seeds, the band its 95 % interval), and each one's final test accuracy (a dot per seed, the mean
  and its interval).
- Q1 (the batch order) adds the per-class test accuracy (bars): class-sorted batches favour the classes
  seen last.
- Q3 (epoch vs batch) is drawn against the batch size: final test accuracy and seconds per epoch.

The figures are drawn once, with English labels, and shown in every language's report; only their
captions are translated (a catalog's `captions`, by the names of CAPTIONS).
"""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.analysis.statistics import describe
from cnnlab.reporting.language import Messages
from cnnlab.reporting.questions import Answer, question_number, seconds_per_epoch, seed_seconds_per_epoch
from cnnlab.reporting.style import (
    drawn_interval,
    few_points,
    possible_percent,
    save,
    seed_band,
    seed_histories,
    seeds_note,
    styled,
)
from cnnlab.reporting.tables import seed_runs
from cnnlab.results.records import FinishedRun, read_evaluation_tables

FILE_PREFIX = "question_"
SEED_DOT = {"color": "0.55", "s": 14, "zorder": 2}
MEAN_BAR = {"color": "black", "fmt": "o", "capsize": 4, "markersize": 5, "zorder": 3}

CURVES_CAPTION = (
    "Left: test accuracy after each epoch of the base experiment and its variants; each line is the "
    "mean over the seeds, the band its 95 % interval (no band with one seed). Right: the final test "
    "accuracy of each (the checkpoint selected on validation): a grey dot per seed, the black dot "
    "their mean and the bar its 95 % interval (no bar where it would leave 0-100 % or rests on two "
    "seeds that agree exactly).")
PER_CLASS_CAPTION = ("Bottom: test accuracy per class, a bar per experiment (the seeds' counts added "
                     "up): with class-sorted batches the classes seen last in each epoch win.")
BATCH_CAPTION = (
    "Against the batch size B (log scale): left, the final test accuracy (a grey dot per seed, the "
    "black dot their mean, the bar its 95 % interval where it lies inside 0-100 % and does not rest on "
    "two seeds that agree exactly); right, the seconds an epoch's training took (a "
    "dot per seed, the line joins the means; validation and test not included). One epoch is "
    "training images / B steps.")


def figure_kind(answer: Answer) -> tuple:
    """How the answer's figure is drawn, and the names of its caption's parts (CAPTIONS)."""
    return FIGURE_KINDS.get(question_number(answer.qid), (curves_figure, ("question_curves",)))


def plot_answers(answers: list[Answer], out_dir: Path) -> dict[str, Path]:
    """Each answer's figure drawn into `out_dir`, by the question's id; the figures of questions
    without an answer now are removed (they would show results that are gone)."""
    out_dir = Path(out_dir)
    drawn = {answer.qid: save(figure_kind(answer)[0](answer), out_dir / f"{FILE_PREFIX}{answer.qid}.png")
             for answer in answers}
    for old in out_dir.glob(f"{FILE_PREFIX}*.png"):
        if old not in drawn.values():
            old.unlink()
    return drawn


def with_figures(answers: list[Answer], figures: dict[str, Path], words: Messages) -> list[Answer]:
    """The answers (written in `words`' language) with their figures and the captions in that language."""
    def caption(answer: Answer) -> str:
        return words("join.sentences").join(words.get("captions", name, CAPTIONS[name])
                                            for name in figure_kind(answer)[1])

    return [replace(answer, figure=figures[answer.qid], caption=caption(answer)) for answer in answers]


def n_seeds(experiments: list[FinishedRun]) -> int:
    return min(len(seed_runs(e)) for e in experiments)


def seed_values(experiment: FinishedRun, value) -> list[float]:
    return [value(run) for run in seed_runs(experiment)]


def test_percent(run: FinishedRun) -> float:
    return run.metrics["test_acc"] * 100


def mean_with_interval(ax, position: float, values: list[float], horizontal: bool) -> None:
    """The seeds' values as grey dots, their mean as a black dot with its 95 % interval as a bar
    (style.drawn_interval: none where the interval would say more than the seeds)."""
    mean, interval = describe(values)["mean"], drawn_interval(values)
    error = None if interval is None else [[mean - interval[0]], [interval[1] - mean]]
    if horizontal:
        ax.scatter(values, [position] * len(values), **SEED_DOT)
        ax.errorbar(mean, position, xerr=error, **MEAN_BAR)
    else:
        ax.scatter([position] * len(values), values, **SEED_DOT)
        ax.errorbar(position, mean, yerr=error, **MEAN_BAR)


def curves_figure(answer: Answer) -> Figure:
    experiments = list(answer.experiments)
    with styled():
        fig = Figure(figsize=(12, 7.8 if per_class_panel(answer) else 4.6), layout="constrained")
        grid = fig.add_gridspec(2 if per_class_panel(answer) else 1, 2, width_ratios=(3, 2))
        curves, finals = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        draw_curves(curves, experiments)
        for y, experiment in enumerate(experiments):
            mean_with_interval(finals, y, seed_values(experiment, test_percent), horizontal=True)
        finals.set_yticks(range(len(experiments)), [e.name for e in experiments], fontsize="small")
        finals.set_ylim(len(experiments) - 0.5, -0.5)
        finals.set_xlim(*possible_percent(finals.get_xlim()))
        finals.set(xlabel="final test accuracy (%)", title="selected checkpoint, each seed")
        if per_class_panel(answer):
            draw_per_class(fig.add_subplot(grid[1, :]), experiments)
        fig.suptitle(f"{answer.title}\n{seeds_note(n_seeds(experiments))}", fontsize="medium")
    return fig


def draw_curves(ax, experiments: list[FinishedRun]) -> None:
    table = pd.concat([seed_histories(seed_runs(e)).assign(experiment=e.name) for e in experiments],
                      ignore_index=True)
    table["test accuracy (%)"] = table["test_acc"] * 100
    sns.lineplot(data=table, x="epoch", y="test accuracy (%)", hue="experiment",
                 hue_order=[e.name for e in experiments], markers=few_points(experiments[0].history),
                 style="experiment", dashes=False, errorbar=seed_band(n_seeds(experiments)), ax=ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylim(*possible_percent(ax.get_ylim()))
    ax.set_title("test accuracy per epoch")
    ax.legend(fontsize="small")


def per_class_panel(answer: Answer) -> bool:
    return question_number(answer.qid) == "q1"


def draw_per_class(ax, experiments: list[FinishedRun]) -> None:
    fix = "run `cnnlab summarize EXP` again"
    table = pd.concat([read_evaluation_tables(e.folder, fix, with_predictions=False)["per_class"]
                       .assign(experiment=e.name) for e in experiments], ignore_index=True)
    table["test accuracy (%)"] = table["accuracy"] * 100
    # a bar per class and experiment: a line from one class to the next would join unrelated numbers
    sns.barplot(data=table, x="class", y="test accuracy (%)", hue="experiment",
                hue_order=[e.name for e in experiments], errorbar=None, ax=ax)
    ax.set_ylim(0, 100)
    ax.set_title("test accuracy per class (the seeds' counts added up)")
    ax.legend(fontsize="small")


def batch_figure(answer: Answer) -> Figure:
    experiments = sorted(answer.experiments, key=lambda e: e.cfg["batch_size"])
    batches = [e.cfg["batch_size"] for e in experiments]
    with styled():
        fig = Figure(figsize=(11, 4.6), layout="constrained")
        accuracy, seconds = fig.subplots(1, 2)
        for experiment, batch in zip(experiments, batches):
            mean_with_interval(accuracy, batch, seed_values(experiment, test_percent), horizontal=False)
            seconds.scatter([batch] * len(seed_runs(experiment)),
                            seed_values(experiment, seed_seconds_per_epoch), **SEED_DOT)
        seconds.plot(batches, [seconds_per_epoch(e) for e in experiments], color="black", marker="o")
        for ax in (accuracy, seconds):
            ax.set_xscale("log", base=2)
            ax.set_xticks(batches, [f"{b:,}" for b in batches])
            ax.set_xlabel("batch size B")
        accuracy.set_ylim(*possible_percent(accuracy.get_ylim()))
        accuracy.set(ylabel="final test accuracy (%)", title="test accuracy")
        seconds.set_ylim(bottom=0)
        seconds.set(ylabel="seconds per epoch", title="training time per epoch")
        fig.suptitle(f"{answer.title}\n{seeds_note(n_seeds(experiments), 'bar')}", fontsize="medium")
    return fig


# The captions' parts in English, by the names a catalog translates them under (`captions`).
CAPTIONS = {"question_curves": CURVES_CAPTION, "question_per_class": PER_CLASS_CAPTION,
            "question_batch": BATCH_CAPTION}
# By question number (questions.question_number): the drawing and its caption's parts; any other
# question: curves_figure (figure_kind).
FIGURE_KINDS = {"q3": (batch_figure, ("question_batch",)),
                "q1": (curves_figure, ("question_curves", "question_per_class"))}
