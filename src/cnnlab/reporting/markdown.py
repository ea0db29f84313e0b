"""results/report.md and report.zh.md: the write-up a student hands in (the lab asks for a blog
post): the answers to the lab's questions with their tables, the reproduction table and every
figure, linked relative to the results folder (figures/<name>.png, <exp>/plots/<name>.png), ready to
paste into a blog. One rendering for every language: its words are the catalog's (language.Messages),
its numbers the same; the figures are shared, their captions translated."""

import re
from pathlib import Path

import pandas as pd

from cnnlab.reporting.experiment_figures import FIGURES, plot_names
from cnnlab.reporting.gallery import FigureKind
from cnnlab.reporting.intervals import pct, pp
from cnnlab.reporting.language import Messages
from cnnlab.reporting.overview import counts_sentence, missing_sentence, smoke_note
from cnnlab.reporting.page import reference_epochs, selected_ours
from cnnlab.reporting.questions import Answer
from cnnlab.reporting.references import REFERENCE_KINDS
from cnnlab.reporting.study_figures import STUDY_FIGURES, study_caption
from cnnlab.results import layout
from cnnlab.results.records import FinishedRun


def render_markdown(params: dict, runs: list[FinishedRun], reproduction: pd.DataFrame, answers: list[Answer],
                    figures: dict[str, Path], results_dir: Path, words: Messages) -> str:
    note = smoke_note(params, runs, words)
    experiments = words("report.experiments")
    parts = [f"# {words('report.title')}", words("report.language_note"),
             words("report.counts", counts=counts_sentence(params, runs, words), experiments=experiments,
                   anchor=anchor(experiments)),
             f"> {note}" if note else "",
             f"## {words('report.questions')}",
             *(answer_markdown(a, results_dir, words) for a in answers)]
    if not answers:
        parts.append(words("report.no_question"))
    parts += [f"## {words('report.reproduction')}", reproduction_markdown(reproduction, words),
              f"## {words('report.study_figures')}"]
    parts += [figure_markdown(path, study_caption(caption(STUDY_FIGURES[n], words), n, params), results_dir,
                              words) for n, path in figures.items()]
    parts += [f"## {experiments}", missing_sentence(params, runs, words)]
    for run in runs:
        parts.append(f"### {run.name}")
        plots = run.folder / layout.PLOTS
        parts += [figure_markdown(plots / f"{name}.png", caption(FIGURES[name], words), results_dir, words)
                  for name in plot_names(run.cfg)]
    return "\n\n".join(p for p in parts if p) + "\n"


def anchor(heading: str) -> str:
    """The link to a heading as GitHub makes it: lower case, punctuation dropped, spaces as hyphens
    (letters of any script kept)."""
    return "#" + re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def caption(kind: FigureKind, words: Messages) -> str:
    """A figure's caption: declared in English with its drawing, translated by name in a catalog."""
    return words.get("captions", kind.name, kind.caption)


def cell(text) -> str:
    """Text inside a Markdown table cell: a `|` would end the cell, a newline the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cell(c) for c in line) + " |" for line in lines)


def answer_markdown(answer: Answer, results_dir: Path, words: Messages) -> str:
    figure = (figure_markdown(answer.figure, answer.caption, results_dir, words) + "\n\n"
              if answer.figure else "")
    table = table_markdown(answer.headers, answer.rows)
    notes = f"{answer.paragraph}\n\n" if answer.paragraph else ""
    return f"### {answer.title}\n\n**{answer.conclusion}** {answer.reason}\n\n{notes}{figure}{table}"


def reproduction_markdown(reproduction: pd.DataFrame, words: Messages) -> str:
    """One row per experiment: ours, then each kind of published number with its difference and verdict
    (the reasons are in results/reproduction.csv)."""
    headers = [words("columns.experiment"), words("reproduction.setting"), words("reproduction.ours"),
               *(words.get("reference_kinds", kind, label) for kind, label in REFERENCE_KINDS.items())]
    rows = []
    for name, group in reproduction.groupby("experiment", sort=False):
        first = group.iloc[0]
        references = [" / ".join(reference_text(e, words) for e in group[group["kind"] == kind].itertuples())
                      or "–" for kind in REFERENCE_KINDS]
        rows.append([name, f"{first.scale}, {first.epochs}", f"{pct(selected_ours(group))} (n = {first.n})",
                     *references])
    return table_markdown(headers, rows)


def reference_text(entry, words: Messages) -> str:
    return words("reproduction.reference", value=f"{pct(entry.reference)}{'+' if entry.at_least else ''}",
                 epochs=reference_epochs(entry, words), difference=pp(entry.difference),
                 verdict=words.get("verdicts", entry.verdict, entry.verdict))


def figure_markdown(path: Path, caption_text: str, results_dir: Path, words: Messages) -> str:
    """The figure linked relative to the results folder, its caption below it."""
    link = Path(path).relative_to(results_dir).as_posix()
    if not Path(path).is_file():
        return words("report.missing_figure", link=link)
    return f"![{Path(path).stem}]({link})\n\n*{caption_text}*"
