"""results/report.html: the study's tables, every figure with its caption, the parameters and the
environment, on one self-contained page (figures as base64 data URIs, inline CSS, no scripts, no
external resources), so it can be handed in or mailed as one file."""

import base64
import html
import re
from pathlib import Path

import pandas as pd
import yaml

from cnnlab import config
from cnnlab.analysis import statistics
from cnnlab.reporting.changes import recipe_keys
from cnnlab.reporting.experiment_figures import FIGURES, plot_names
from cnnlab.reporting.intervals import (
    accuracy_text,
    caveats,
    comparison_sentence,
    difference_interval,
    interval,
    pct,
    pp,
)
from cnnlab.reporting.overview import counts_sentence, missing_sentence, smoke_note
from cnnlab.reporting.references import REFERENCE_KINDS
from cnnlab.reporting.study_figures import STUDY_FIGURES
from cnnlab.reporting.style import DATASET_TITLES
from cnnlab.reporting.tables import REPRODUCTION_NOTE, SELECTED, SUMMARY_NOTE
from cnnlab.results import layout
from cnnlab.results.records import FinishedRun
from cnnlab.text import count

PARAMETER_COLUMNS = 7  # settings per parameters table, so that each fits the page's width

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.small { font-size: 0.8rem; color: #555; }
.verdict { font-weight: 600; white-space: nowrap; }
.reproduced { color: #1e7b34; } .ours-below, .ours-above { color: #b03a2e; }
.not-comparable, .no-reference { color: #777; }
.caveat { color: #b03a2e; font-size: 0.8rem; }
.banner { background: #fff4d6; border: 1px solid #e0b84c; padding: 0.6rem 1rem; margin: 1rem 0; }
figure { margin: 1.2rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #333; max-width: 60rem; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
"""


def render_html(params, runs, summary, reproduction, comparisons, figures, answers=()) -> str:
    """The page; `answers` (questions.Answer) open it, before the summary."""
    note = smoke_note(params, runs)
    banner = f'<p class="banner">{esc(note)}</p>' if note else ""
    missing = missing_sentence(params, runs)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>cnnlab: the CNN week as one reproducible study</title>", f"<style>{CSS}</style></head><body>",
        "<h1>cnnlab: the CNN week as one reproducible study</h1>",
        f'<p class="small">{marked_up(counts_sentence(params, runs))}: each a row of the '
        '<a href="#summary-table">Summary</a>, with its figures under <a href="#experiments">Experiments</a>'
        + ("" if not missing else ' (and the rest <a href="#missing">there</a>)') + ".</p>",
        banner,
        '<nav><a href="#answers">The lab\'s questions</a> · <a href="#summary">Summary</a> · '
        '<a href="#reproduction">Reproduction</a> · '
        '<a href="#comparisons">Comparisons</a> · <a href="#study-figures">Study figures</a> · '
        '<a href="#experiments">Experiments</a> · '
        '<a href="#parameters">Parameters</a> · <a href="#environment">Environment</a></nav>',
        '<h2 id="answers">The lab\'s questions, answered from the numbers</h2>', answers_html(answers),
        '<h2 id="summary">Summary</h2>', summary_html(summary, runs),
        '<h2 id="reproduction">Reproduction</h2>', reproduction_html(reproduction),
        '<h2 id="comparisons">Comparisons</h2>', comparisons_html(comparisons),
        '<h2 id="study-figures">Study figures</h2>',
        *(figure_html(path, STUDY_FIGURES[name].caption) for name, path in figures.items()),
        '<h2 id="experiments">Experiments</h2>',
        f'<p id="missing" class="small">{marked_up(missing)}</p>' if missing else "",
        *(experiment_html(run) for run in runs),
        '<h2 id="parameters">Parameters</h2>', parameters_html(params, runs),
        '<h2 id="environment">Environment</h2>', environment_html(runs),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def esc(value) -> str:
    return html.escape(str(value))


def marked_up(text: str) -> str:
    """Plain text with `code` in backticks (as report.md has it) as HTML."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def table_html(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset(),
               table_id: str = "") -> str:
    """Cells are HTML already (escape text with esc); `numeric` columns are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return (f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def mean_and_interval(row) -> str:
    """'98.95 ± 0.12 % (n = 5)' (intervals.accuracy_text), the interval itself where there is one,
    the seeds' range, and the test set's own binomial standard error (which gaps are noise)."""
    mean, _, note = accuracy_text(summary_row_stats(row)).partition(" (")
    spread = (f"<br>95 % interval {interval(row.test_acc_ci_low, row.test_acc_ci_high)}"
              if row.test_acc_interval == "t" else "")
    seeds = ("" if row.test_acc_interval in ("none", "range")  # one value; the range is in the note
             else f"<br>seeds {pct(row.test_acc_min)}–{pct(row.test_acc_max)}")
    return (f'{mean} <span class="small">({esc(note)}{spread}{seeds}<br>test set SE '
            f'±{row.binomial_se * 100:.2f} pp</span>')


def summary_row_stats(row) -> dict:
    """A row of summary.csv's test accuracy as statistics.describe's fields."""
    return {"n": row.seeds, "mean": row.test_acc, "ci_low": None if pd.isna(row.test_acc_ci_low) else
            row.test_acc_ci_low, "ci_high": row.test_acc_ci_high, "min": row.test_acc_min,
            "max": row.test_acc_max}


def flops(n: float) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e9 else f"{n / 1e6:.2f} M"


def summary_html(summary: pd.DataFrame, runs: list[FinishedRun]) -> str:
    headers = ["experiment", "dataset", "model", "scale", "parameters", "FLOPs / image", "epochs",
               "test acc. (chosen on validation): mean ± 95 % interval over the seeds",
               "test acc. (best epoch on test, the labs' way): mean", "training time (a seed, mean)",
               "images / s", "peak memory"]
    machine = {r.name: machine_of(r) for r in runs}.get
    rows = [[esc(r.experiment), esc(r.dataset), esc(r.model), esc(r.scale), f"{r.parameters:,}",
             flops(r.flops_per_image), str(r.epochs), mean_and_interval(r), pct(r.labs_best_test_acc),
             f"{r.train_seconds:,.1f} s{load_note(machine(r.experiment, {}))}",
             f"{r.images_per_sec:,.0f}{loaded_mark(machine(r.experiment, {}))}",
             f"{r.peak_memory_mb:,.0f} MB"]
            for r in summary.itertuples()]
    return (table_html(headers, rows, numeric={4, 5, 6, 7, 8, 9, 10, 11}, table_id="summary-table")
            + f'<p class="small">{esc(SUMMARY_NOTE)} {esc(caveats(" ".join(map(str, rows))))} '
              f'Times measured on (CPU, cores): '
              f'{esc(grouped(runs, cpu_text))}; load: the 1-minute load average as training started and '
              'ended. Device, precision, commit and data verification: see '
              '<a href="#environment">Environment</a>.</p>')


def answers_html(answers) -> str:
    """Each question: its conclusion and reason, its own numbers, its figure, then its table."""
    if not answers:
        return ("<p>No question of params.yaml's <code>questions</code> has its base and a variant "
                "evaluated yet.</p>")
    return "\n".join(
        f'<h3 id="{esc(a.qid)}">{esc(a.title)}</h3>'
        f"<p><strong>{esc(a.conclusion)}</strong> {esc(a.reason)}</p>"
        + (f"<p>{esc(a.paragraph)}</p>" if a.paragraph else "")
        + (figure_html(a.figure, a.caption) if a.figure else "")
        + table_html(a.headers, [[esc(cell) for cell in row] for row in a.rows],
                     numeric=set(range(2, len(a.headers))), table_id=f"{a.qid}-table")
        for a in answers)


def machine_of(run: FinishedRun) -> dict:
    """train.json's `machine` (runtime.machine); {} in a train.json written before it was recorded."""
    machine = run.trained.get("machine")
    return machine if isinstance(machine, dict) else {}


def one_minute_loads(machine: dict) -> list[float]:
    """The 1-minute load averages as training started and ended (those recorded)."""
    loads = (machine.get("load_average_start"), machine.get("load_average_end"))
    return [load[0] for load in loads if isinstance(load, list) and load and isinstance(load[0], int | float)]


def load_caveat(machine: dict) -> str:
    """The warning for times taken while more processes wanted a CPU than the machine has ('' if not)."""
    loads, cores = one_minute_loads(machine), machine.get("cores")
    if not loads or not isinstance(cores, int) or max(loads) <= cores:
        return ""
    return f"measured on a loaded machine: load {max(loads):.1f} on {cores} cores; times are not comparable"


def load_text(machine: dict) -> str:
    loads, cores = one_minute_loads(machine), machine.get("cores")
    if not loads:
        return "load not recorded"
    return f"load {' → '.join(f'{load:.1f}' for load in loads)} on {cores or '?'} cores"


def load_note(machine: dict) -> str:
    """Under a training time: the load while it ran, and the caveat when the machine was loaded."""
    caveat = load_caveat(machine)
    return (f'<br><span class="small">{esc(load_text(machine))}</span>'
            + (f'<br><span class="caveat">{esc(caveat)}</span>' if caveat else ""))


def loaded_mark(machine: dict) -> str:
    return '<br><span class="caveat">loaded machine</span>' if load_caveat(machine) else ""


def cpu_text(machine: dict) -> str:
    if not machine.get("cpu") and not machine.get("cores"):
        return "not recorded"
    gpu = f" + {machine['gpu']}" if machine.get("gpu") else ""
    return f"{machine.get('cpu') or 'an unknown CPU'} ({machine.get('cores') or '?'} cores){gpu}"


def commit_text(machine: dict) -> str:
    if "commit" not in machine:
        return "not recorded"
    if not machine["commit"]:
        return "unknown (not a git checkout, or no git)"
    return str(machine["commit"]) + (" + uncommitted changes in src/cnnlab" if machine.get("dirty") else "")


def flags_text(machine: dict) -> str:
    flags = machine.get("cpu_flags")
    if not isinstance(flags, list):
        return "not recorded"
    return ", ".join(map(str, flags)) or "none of them"


def grouped(runs: list[FinishedRun], describe) -> str:
    """One description when every run shares it, else each description with its experiments."""
    groups: dict[str, list[str]] = {}
    for run in runs:
        groups.setdefault(describe(machine_of(run)), []).append(run.name)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{text} ({', '.join(names)})" for text, names in groups.items())


def made_html(runs: list[FinishedRun]) -> str:
    """How this was made: the code's commit, the CPU and its speed flags, for every run."""
    items = [("code (git commit)", grouped(runs, commit_text)), ("machine", grouped(runs, cpu_text)),
             ("CPU flags that decide the speed", grouped(runs, flags_text))]
    return ('<h3 id="how-made">How this was made</h3><ul>'
            + "".join(f"<li>{esc(label)}: {esc(text)}</li>" for label, text in items) + "</ul>")


def reproduction_html(reproduction: pd.DataFrame) -> str:
    """One row per experiment: ours, then each kind of reference with its difference and verdict."""
    headers = ["experiment", "scale, epochs", "ours (test acc., mean over the seeds)",
               *REFERENCE_KINDS.values(), "verdicts"]
    rows = []
    for name, group in reproduction.groupby("experiment", sort=False):
        first = group.iloc[0]
        cells = [esc(name), esc(f"{first.scale}, {first.epochs}"),
                 f'{pct(selected_ours(group))} <span class="small">(n = {first.n})</span>']
        for kind in REFERENCE_KINDS:
            entries = group[group["kind"] == kind]
            cells.append("<br>".join(reference_cell(e) for e in entries.itertuples()) or "–")
        counts = group["verdict"].value_counts()
        cells.append("<br>".join(f'<span class="verdict {css_class(v)}">{esc(v)}</span>'
                                 + (f" ({n})" if len(group) > 1 else "") for v, n in counts.items()))
        rows.append(cells)
    legend = REPRODUCTION_NOTE.format(rule=statistics.rule_text())
    return table_html(headers, rows, table_id="reproduction-table") + f'<p class="small">{esc(legend)}</p>'


def selected_ours(group: pd.DataFrame) -> float:
    """An experiment's accuracy in the reproduction table: the validation-selected one, not the one
    read at a reference's earlier epoch."""
    selected = group.loc[group["ours_measure"] == SELECTED, "ours"]
    return selected.iloc[0] if len(selected) else group.iloc[0].ours


def reference_cell(entry) -> str:
    value = pct(entry.reference) + ("+" if entry.at_least else "")
    epochs = "epochs unknown" if pd.isna(entry.reference_epochs) else f"{int(entry.reference_epochs)} ep."
    # a reference after fewer epochs is compared with the same runs at that epoch: say so
    ours = "" if entry.ours_measure == SELECTED else (
        f'<br><span class="small">ours: {pct(entry.ours)}, {esc(entry.ours_measure)}</span>')
    spread = "" if pd.isna(entry.ours_low) else (
        f'<br><span class="small">our interval {interval(entry.ours_low, entry.ours_high, " %")}'
        + ("" if pd.isna(entry.sds) else f"; ours {entry.sds:+.1f} SD from it") + "</span>")
    return (f'{value} <span class="small">({epochs})</span>{ours}<br>'
            f'Δ {pp(entry.difference)} · <span class="verdict {css_class(entry.verdict)}">'
            f'{esc(entry.verdict)}</span>{spread}<br><span class="small" title="{esc(entry.reason)}">'
            f"{esc(entry.note)}</span>")


def comparisons_html(comparisons: pd.DataFrame) -> str:
    """The study's claims as paired differences over the seeds, each with a sentence that says
    whether the difference is more than the seeds' noise."""
    if comparisons.empty:
        return "<p>No comparison has both of its experiments evaluated yet.</p>"
    headers = ["comparison", "A − B (mean over seeds)", "95 % interval", "paired t-test p", "Wilcoxon p",
               "A > B in", "what it says"]
    rows = [[esc(c.comparison), pp(c.mean_diff), esc(difference_interval(c)), p_value(c.t_p),
             p_value(c.wilcoxon_p), "–" if pd.isna(c.p_a_greater) else f"{c.p_a_greater:.0%} of {c.n} seeds",
             esc(comparison_sentence(c))] for c in comparisons.itertuples()]
    return (table_html(headers, rows, numeric={1, 2, 3, 4}, table_id="comparisons-table")
            + '<p class="small">A and B ran at the same seeds (the same validation split, permutation and '
              "batch order); each difference is taken seed by seed (results/comparisons.csv lists them). "
              "The interval is Student's t over the per-seed differences; p-values from scipy.stats "
              f"(ttest_rel, wilcoxon). {esc(caveats(' '.join(map(str, rows))))}</p>")


def p_value(p) -> str:
    return "–" if p is None or pd.isna(p) else f"{p:.3g}"


def css_class(verdict: str) -> str:
    return verdict.replace(" ", "-")


def figure_html(path: Path, caption: str, alt: str = "") -> str:
    path = Path(path)
    if not path.is_file():
        return f'<p class="banner">Missing figure {esc(path)}: run the pipeline\'s plot step.</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt or path.stem)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def experiment_html(run: FinishedRun) -> str:
    cfg, seeds = run.cfg, [r.cfg["seed"] for r in run.runs or [run]]
    test = (run.summary or {}).get("test_acc")
    accuracy = accuracy_text(test) if test else pct(run.metrics["test_acc"])
    head = (f'<h3 id="{esc(run.name)}">{esc(run.name)}</h3><p class="small">{esc(cfg["model"])} on '
            f'{esc(DATASET_TITLES[cfg["dataset"]])}, {esc(cfg["scale"])} scale, '
            f'{count(run.trained["epochs"], "epoch")}, {count(len(seeds), "seed")} '
            f'({esc(", ".join(map(str, seeds)))}); test accuracy {esc(accuracy)}, checkpoints chosen on '
            f'validation.</p>')
    plots = run.folder / layout.PLOTS
    figures = [figure_html(plots / f"{name}.png", FIGURES[name].caption, f"{run.name} {name}")
               for name in plot_names(cfg)]
    return head + "\n".join(figures)


def parameters_html(params: dict, runs: list[FinishedRun]) -> str:
    """The recipe keys as the runs used them: shared values once, the differing ones in a table."""
    keys = recipe_keys()
    values = {k: [r.cfg.get(k, "") for r in runs] for k in keys}
    shared = {k: v[0] for k, v in values.items() if all(x == v[0] for x in v)}
    differing = [k for k in keys if k not in shared]
    # the differing keys in several tables of PARAMETER_COLUMNS keys each: one would be wider than the page
    parts = [differing[i:i + PARAMETER_COLUMNS] for i in range(0, len(differing), PARAMETER_COLUMNS)]
    tables = [table_html(["experiment", *part], [[esc(r.name), *(esc(values[k][i]) for k in part)]
                                                  for i, r in enumerate(runs)])
              for part in parts]
    study = {k: params.get(k) for k in (*config.STUDY_KEYS, "datasets")} | {"data": params["data"]}
    return ("<p>Each run's settings as recorded in its train.json (params.yaml, the scale and any "
            "<code>--set</code> overrides applied). The same in every run: "
            + esc(", ".join(f"{k} {v}" for k, v in shared.items()) or "nothing") + ".</p>"
            + "".join(tables)
            + "<details><summary>params.yaml (study-wide settings and scales)</summary><pre>"
            + esc(yaml.safe_dump({**study, "scales": params["scales"]}, sort_keys=False))
            + "</pre></details>")


def environment_html(runs: list[FinishedRun]) -> str:
    version_keys = ["python", "torch", "torchvision", "numpy", "cnnlab"]
    headers = ["experiment", "device", "precision", "threads", "deterministic", "data verified",
               "load while training (1 min)", *version_keys]
    rows = [[esc(r.name), esc(r.trained["device"]), esc(r.trained["precision"]),
             esc(r.trained.get("threads", "")), esc(r.cfg.get("deterministic")),
             "yes" if r.trained["data_verified"] else "<b>no</b>", esc(load_text(machine_of(r))),
             *(esc(r.trained["versions"].get(k, "")) for k in version_keys)] for r in runs]
    platforms = sorted({r.trained["versions"].get("platform", "?") for r in runs})
    return (made_html(runs) + table_html(headers, rows)
            + f'<p class="small">Platform: {esc("; ".join(platforms))}. "data verified: no" means the '
              "dataset files are not the canonical ones (their digests were not checked or did not "
              "match).</p>")
