"""`cnnlab report`: summary.csv, reproduction.csv, comparisons.csv, figures/*.png, report.html,
report.md and report.zh.md (the write-up in Chinese, the course's language) in the results folder."""

from pathlib import Path

from cnnlab import config
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_text, atomic_write_with, held_folder
from cnnlab.reporting.language import messages
from cnnlab.reporting.markdown import render_markdown
from cnnlab.reporting.page import render_html
from cnnlab.reporting.question_figures import plot_answers, with_figures
from cnnlab.reporting.questions import question_answers
from cnnlab.reporting.references import REFERENCES, load_references
from cnnlab.reporting.study_figures import StudyInputs, plot_study
from cnnlab.reporting.tables import comparison_table, reproduction_table, summary_table
from cnnlab.results.records import FinishedRun, read_replicates

# The write-up in each language of reporting/messages/, English first; report.html is in English only.
MARKDOWN_FILES = {"en": "report.md", "zh": "report.zh.md"}


def build_report(params: dict, results_dir: Path, references_path: Path = REFERENCES) -> Path:
    """Write summary.csv, reproduction.csv, comparisons.csv, figures/*.png, report.html and the
    MARKDOWN_FILES into `results_dir`; returns report.html's path."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise CnnlabError(f"{results_dir}: no such folder; run `cnnlab train EXP` and `cnnlab evaluate EXP` "
                          "first (or point --results at the results folder)")
    with held_folder(results_dir, also_clean=("figures",)):
        runs = load_runs(params, results_dir)
        references = load_references(references_path, params)
        summary = summary_table(runs)
        reproduction = reproduction_table(params, runs, references)
        comparisons = comparison_table(params, runs)
        tables = {"summary": summary, "reproduction": reproduction, "comparisons": comparisons}
        for name, table in tables.items():
            atomic_write_with(results_dir / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False))
        figures = plot_study(StudyInputs(summary, reproduction, {r.name: r for r in runs},
                                         params.get("figures", {})), results_dir / "figures")
        # the same decisions in each language (questions.py), only their words looked up
        answers = {language: question_answers(params, runs, messages(language))
                   for language in MARKDOWN_FILES}
        answer_figures = plot_answers(answers["en"], results_dir / "figures")  # shared: English labels
        answers = {language: with_figures(written, answer_figures, messages(language))
                   for language, written in answers.items()}
        report = results_dir / "report.html"
        atomic_write_text(report, render_html(params, runs, summary, reproduction, comparisons, figures,
                                              answers["en"]))
        for language, file in MARKDOWN_FILES.items():
            write_up = render_markdown(params, runs, reproduction, answers[language], figures, results_dir,
                                       messages(language))
            atomic_write_text(results_dir / file, write_up)
    return report


def load_runs(params: dict, results_dir: Path) -> list[FinishedRun]:
    """The evaluated experiments of the study (those with summary.json), in catalog order."""
    runs = []
    for name in config.study_experiments(params):
        folder = results_dir / name
        if (folder / "summary.json").is_file():
            fix = f"run `cnnlab train {name}`, `cnnlab evaluate {name}` and `cnnlab summarize {name}` again"
            runs.append(read_replicates(folder, name, fix))
    if not runs:
        raise CnnlabError(f"{results_dir} holds no evaluated experiment; run `cnnlab train EXP` and "
                          f"`cnnlab evaluate EXP` first (or point --results at the results folder)")
    return runs
