"""`cnnlab report`: summary.csv, reproduction.csv, comparisons.csv, figures/*.png, report.html and
report.md in the results folder."""

from pathlib import Path

from cnnlab import config
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_text, atomic_write_with, held_folder
from cnnlab.reporting.markdown import render_markdown
from cnnlab.reporting.page import render_html
from cnnlab.reporting.question_figures import plot_answers
from cnnlab.reporting.questions import question_answers
from cnnlab.reporting.references import REFERENCES, load_references
from cnnlab.reporting.study_figures import StudyInputs, plot_study
from cnnlab.reporting.tables import comparison_table, reproduction_table, summary_table
from cnnlab.results.records import FinishedRun, read_replicates


def build_report(params: dict, results_dir: Path, references_path: Path = REFERENCES) -> Path:
    """Write summary.csv, reproduction.csv, comparisons.csv, figures/*.png, report.html and report.md
    into `results_dir`; returns report.html's path."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise CnnlabError(f"{results_dir}: no such folder; run `cnnlab train EXP` and `cnnlab evaluate EXP` "
                          "first (or point --results at the results folder)")
    with held_folder(results_dir, also_clean=("figures",)):
        runs = load_runs(params, results_dir)
        references = load_references(references_path, params)
        summary = summary_table(runs)
        reproduction = reproduction_table(params, runs, references)
        comparisons = comparison_table(runs)
        tables = {"summary": summary, "reproduction": reproduction, "comparisons": comparisons}
        for name, table in tables.items():
            atomic_write_with(results_dir / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False))
        figures = plot_study(StudyInputs(summary, reproduction, {r.name: r for r in runs}),
                             results_dir / "figures")
        answers = plot_answers(question_answers(params, runs), results_dir / "figures")
        page = render_html(params, runs, summary, reproduction, comparisons, figures, answers)
        report = results_dir / "report.html"
        atomic_write_text(report, page)
        atomic_write_text(results_dir / "report.md",
                          render_markdown(params, runs, reproduction, answers, figures, results_dir))
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
