"""results/report.md: the write-up a student hands in (the lab asks for a blog post): the answers to
the lab's questions with their tables, the reproduction table and every figure, linked relative to
the results folder (figures/<name>.png, <exp>/plots/<name>.png), ready to paste into a blog."""

from pathlib import Path

import pandas as pd

from cnnlab.reporting.experiment_figures import FIGURES, plot_names
from cnnlab.reporting.intervals import pct, pp
from cnnlab.reporting.overview import counts_sentence, missing_sentence, smoke_note
from cnnlab.reporting.page import selected_ours
from cnnlab.reporting.questions import Answer
from cnnlab.reporting.references import REFERENCE_KINDS
from cnnlab.reporting.study_figures import STUDY_FIGURES
from cnnlab.results import layout
from cnnlab.results.records import FinishedRun


def render_markdown(params: dict, runs: list[FinishedRun], reproduction: pd.DataFrame,
                    answers: list[Answer], figures: dict[str, Path], results_dir: Path) -> str:
    note = smoke_note(params, runs)
    parts = ["# cnnlab: the CNN week as one reproducible study",
             f"{counts_sentence(params, runs)}: each with its figures under [Experiments](#experiments).",
             f"> {note}" if note else "",
             "## The lab's questions, answered from the numbers",
             *(answer_markdown(a, results_dir) for a in answers)]
    if not answers:
        parts.append("No question of params.yaml's `questions` has its base and a variant evaluated yet.")
    parts += ["## Reproduction", reproduction_markdown(reproduction), "## Study figures"]
    parts += [figure_markdown(path, STUDY_FIGURES[n].caption, results_dir) for n, path in figures.items()]
    parts += ["## Experiments", missing_sentence(params, runs)]
    for run in runs:
        parts.append(f"### {run.name}")
        plots = run.folder / layout.PLOTS
        parts += [figure_markdown(plots / f"{name}.png", FIGURES[name].caption, results_dir)
                  for name in plot_names(run.cfg)]
    return "\n\n".join(p for p in parts if p) + "\n"


def cell(text) -> str:
    """Text inside a Markdown table cell: a `|` would end the cell, a newline the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cell(c) for c in line) + " |" for line in lines)


def answer_markdown(answer: Answer, results_dir: Path) -> str:
    figure = figure_markdown(answer.figure, answer.caption, results_dir) + "\n\n" if answer.figure else ""
    table = table_markdown(answer.headers, answer.rows)
    notes = f"{answer.paragraph}\n\n" if answer.paragraph else ""
    return f"### {answer.title}\n\n**{answer.conclusion}** {answer.reason}\n\n{notes}{figure}{table}"


def reproduction_markdown(reproduction: pd.DataFrame) -> str:
    """One row per experiment: ours, then each kind of published number with its difference and verdict
    (the reasons are in results/reproduction.csv)."""
    headers = ["experiment", "scale, epochs", "ours (test acc., mean over the seeds)",
               *REFERENCE_KINDS.values()]
    rows = []
    for name, group in reproduction.groupby("experiment", sort=False):
        first = group.iloc[0]
        references = [" / ".join(reference_text(e) for e in group[group["kind"] == kind].itertuples()) or "–"
                      for kind in REFERENCE_KINDS]
        rows.append([name, f"{first.scale}, {first.epochs}", f"{pct(selected_ours(group))} (n = {first.n})",
                     *references])
    return table_markdown(headers, rows)


def reference_text(entry) -> str:
    epochs = "epochs unknown" if pd.isna(entry.reference_epochs) else f"{int(entry.reference_epochs)} ep."
    return (f"{pct(entry.reference)}{'+' if entry.at_least else ''} ({epochs}): Δ {pp(entry.difference)}, "
            f"{entry.verdict}")


def figure_markdown(path: Path, caption: str, results_dir: Path) -> str:
    """The figure linked relative to the results folder, its caption below it."""
    link = Path(path).relative_to(results_dir).as_posix()
    if not Path(path).is_file():
        return f"*Missing figure {link}: run the pipeline's plot step.*"
    return f"![{Path(path).stem}]({link})\n\n*{caption}*"
