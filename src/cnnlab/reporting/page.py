"""results/report.html: the study's tables, every figure with its caption, the parameters and the
environment, on one self-contained page (figures as base64 data URIs, inline CSS, no scripts, no
external resources), so it can be handed in or mailed as one file.

The page's markup is templates/report.html.j2 (Jinja2); this module computes what it shows, as text.
It is in English: the answers and the header are the English catalog's words (language.ENGLISH).
"""

import base64
import html
from pathlib import Path

import jinja2
import pandas as pd
import yaml
from markupsafe import Markup

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
from cnnlab.reporting.language import ENGLISH, Messages
from cnnlab.reporting.overview import counts_sentence, missing_sentence, smoke_note
from cnnlab.reporting.references import REFERENCE_KINDS
from cnnlab.reporting.study_figures import STUDY_FIGURES, study_caption
from cnnlab.reporting.style import DATASET_TITLES
from cnnlab.reporting.tables import REPRODUCTION_NOTE, SELECTED, SUMMARY_NOTE
from cnnlab.results import layout
from cnnlab.results.records import FinishedRun
from cnnlab.text import count

TITLE = ENGLISH("report.title")
PARAMETER_COLUMNS = 7  # settings per parameters table, so that each fits the page's width
VERSION_KEYS = ["python", "torch", "torchvision", "numpy", "cnnlab"]
TEMPLATES = Path(__file__).with_name("templates")
CSS = (TEMPLATES / "report.css").read_text()  # the template includes it; a test styles one section with it


def escaped(value) -> Markup:
    """A value as the page shows it, markup kept: escaped as html.escape does (&#x27;, &quot;; Jinja's
    own would write &#39;, &#34;), so that the page's text is what html.escape of it is."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value)))


TEMPLATE_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, finalize=escaped,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_html(params, runs, summary, reproduction, comparisons, figures, answers=()) -> str:
    """The page; `answers` (questions.Answer) open it, before the summary."""
    return TEMPLATE_ENVIRONMENT.get_template("report.html.j2").render(
        title=TITLE, counts=counts_sentence(params, runs, ENGLISH),
        missing=missing_sentence(params, runs, ENGLISH), note=smoke_note(params, runs, ENGLISH),
        answers=[answer_data(a) for a in answers],
        summary=summary_data(summary, runs), reproduction=reproduction_data(reproduction),
        comparisons=comparisons_data(comparisons),
        study_figures=[figure(path, study_caption(STUDY_FIGURES[name].caption, name, params))
                       for name, path in figures.items()],
        experiments=[experiment_data(run) for run in runs], parameters=parameters(params, runs),
        environment=environment_data(runs))


def parameters_html(params: dict, runs: list[FinishedRun]) -> str:
    """The Parameters section alone (a test renders it in a page of its own)."""
    macros = TEMPLATE_ENVIRONMENT.get_template("macros.html.j2").module
    return str(macros.parameters(parameters(params, runs)))


def figure(path: Path, caption: str, alt: str = "") -> dict:
    """A figure as the page embeds it: its PNG in base64 (None when the file is missing)."""
    path = Path(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii") if path.is_file() else None
    return {"path": str(path), "data": data, "caption": caption, "alt": alt or path.stem}


def answer_data(answer) -> dict:
    """A question's answer (questions.Answer) with its figure embedded; its numbers right-aligned."""
    return {"qid": answer.qid, "title": answer.title, "conclusion": answer.conclusion,
            "reason": answer.reason, "paragraph": answer.paragraph, "headers": answer.headers,
            "rows": answer.rows, "numeric": range(2, len(answer.headers)),
            "figure": figure(answer.figure, answer.caption) if answer.figure else None}


def accuracy_cell(row) -> dict:
    """'98.95 ± 0.12 %' with its note (intervals.accuracy_text), the interval itself where there is
    one, the seeds' range, and the test set's own binomial standard error (which gaps are noise)."""
    mean, _, note = accuracy_text(summary_row_stats(row), ENGLISH).partition(" (")
    one_value = row.test_acc_interval in ("none", "range")  # one value; the range is in the note
    return {"mean": mean, "note": note,
            "interval": interval(row.test_acc_ci_low, row.test_acc_ci_high) if row.test_acc_interval == "t"
            else "",
            "seeds": "" if one_value else f"{pct(row.test_acc_min)}–{pct(row.test_acc_max)}",
            "se": f"±{row.binomial_se * 100:.2f} pp"}


def summary_row_stats(row) -> dict:
    """A row of summary.csv's test accuracy as statistics.describe's fields."""
    return {"n": row.seeds, "mean": row.test_acc, "ci_low": None if pd.isna(row.test_acc_ci_low) else
            row.test_acc_ci_low, "ci_high": row.test_acc_ci_high, "min": row.test_acc_min,
            "max": row.test_acc_max}


def flops(n: float) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e9 else f"{n / 1e6:.2f} M"


def summary_data(summary: pd.DataFrame, runs: list[FinishedRun]) -> dict:
    machines = {r.name: machine_of(r) for r in runs}
    rows = [{"experiment": r.experiment, "dataset": r.dataset, "model": r.model, "scale": r.scale,
             "parameters": f"{r.parameters:,}", "flops": flops(r.flops_per_image), "epochs": r.epochs,
             "accuracy": accuracy_cell(r), "labs_best": pct(r.labs_best_test_acc),
             "train_time": f"{r.train_seconds:,.1f} s", "load": load_text(machines.get(r.experiment, {})),
             "load_caveat": load_caveat(machines.get(r.experiment, {})),
             "images_per_sec": f"{r.images_per_sec:,.0f}", "peak_memory": f"{r.peak_memory_mb:,.0f} MB"}
            for r in summary.itertuples()]
    return {"rows": rows, "note": SUMMARY_NOTE, "cpus": grouped(runs, cpu_text),
            "caveats": caveats(" ".join(row["accuracy"]["note"] for row in rows), ENGLISH)}


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


def reproduction_data(reproduction: pd.DataFrame) -> dict:
    """One row per experiment: ours, then each kind of reference with its difference and verdict."""
    rows = []
    for name, group in reproduction.groupby("experiment", sort=False):
        first = group.iloc[0]
        verdicts = group["verdict"].value_counts()
        rows.append({
            "experiment": name, "setting": f"{first.scale}, {first.epochs}",
            "ours": pct(selected_ours(group)), "n": first.n,
            "references": [[reference_entry(e) for e in group[group["kind"] == kind].itertuples()]
                           for kind in REFERENCE_KINDS],
            "verdicts": [{"verdict": v, "css_class": css_class(v), "count": n if len(group) > 1 else None}
                         for v, n in verdicts.items()]})
    return {"rows": rows, "kinds": list(REFERENCE_KINDS.values()),
            "legend": REPRODUCTION_NOTE.format(rule=statistics.rule_text())}


def selected_ours(group: pd.DataFrame) -> float:
    """An experiment's accuracy in the reproduction table: the validation-selected one, not the one
    read at a reference's earlier epoch."""
    selected = group.loc[group["ours_measure"] == SELECTED, "ours"]
    return selected.iloc[0] if len(selected) else group.iloc[0].ours


def reference_entry(entry) -> dict:
    """A published number next to ours; where it was measured after fewer epochs, ours is the same
    runs at that epoch, and the entry says so."""
    return {"value": pct(entry.reference) + ("+" if entry.at_least else ""),
            "epochs": reference_epochs(entry, ENGLISH),
            "ours": "" if entry.ours_measure == SELECTED else pct(entry.ours),
            "ours_measure": entry.ours_measure, "difference": pp(entry.difference),
            "verdict": entry.verdict, "verdict_class": css_class(entry.verdict),
            "interval": "" if pd.isna(entry.ours_low) else interval(entry.ours_low, entry.ours_high, " %"),
            "sds": "" if pd.isna(entry.sds) else f"{entry.sds:+.1f}", "reason": entry.reason,
            "note": entry.note}


def reference_epochs(entry, words: Messages) -> str:
    """After how many epochs a published number was measured ("10 ep."), where its source says."""
    if pd.isna(entry.reference_epochs):
        return words("reproduction.epochs_unknown")
    return words("reproduction.epochs", n=int(entry.reference_epochs))


def comparisons_data(comparisons: pd.DataFrame) -> dict:
    """The study's claims as paired differences over the seeds, each with a sentence that says
    whether the difference is more than the seeds' noise."""
    rows = [[c.comparison, pp(c.mean_diff), difference_interval(c, ENGLISH), p_value(c.t_p),
             p_value(c.wilcoxon_p),
             "–" if pd.isna(c.p_a_greater) else f"{c.p_a_greater:.0%} of {c.n} seeds", comparison_sentence(c)]
            for c in comparisons.itertuples()]
    return {"rows": rows, "caveats": caveats(" ".join(map(str, rows)), ENGLISH)}


def p_value(p) -> str:
    return "–" if p is None or pd.isna(p) else f"{p:.3g}"


def css_class(verdict: str) -> str:
    return verdict.replace(" ", "-")


def experiment_data(run: FinishedRun) -> dict:
    cfg, seeds = run.cfg, [r.cfg["seed"] for r in run.runs or [run]]
    test = (run.summary or {}).get("test_acc")
    plots = run.folder / layout.PLOTS
    return {"name": run.name, "model": cfg["model"], "dataset": DATASET_TITLES[cfg["dataset"]],
            "scale": cfg["scale"], "epochs": count(run.trained["epochs"], "epoch"),
            "seeds": f"{count(len(seeds), 'seed')} ({', '.join(map(str, seeds))})",
            "accuracy": accuracy_text(test, ENGLISH) if test else pct(run.metrics["test_acc"]),
            "figures": [figure(plots / f"{name}.png", FIGURES[name].caption, f"{run.name} {name}")
                        for name in plot_names(cfg)]}


def parameters(params: dict, runs: list[FinishedRun]) -> dict:
    """The recipe keys as the runs used them: shared values once, the differing ones in tables."""
    keys = recipe_keys()
    values = {k: [r.cfg.get(k, "") for r in runs] for k in keys}
    shared = {k: v[0] for k, v in values.items() if all(x == v[0] for x in v)}
    differing = [k for k in keys if k not in shared]
    # the differing keys in several tables of PARAMETER_COLUMNS keys each: one would be wider than the page
    parts = [differing[i:i + PARAMETER_COLUMNS] for i in range(0, len(differing), PARAMETER_COLUMNS)]
    study = {k: params.get(k) for k in (*config.STUDY_KEYS, "datasets")} | {"data": params["data"]}
    return {"shared": ", ".join(f"{k} {v}" for k, v in shared.items()) or "nothing",
            "tables": [{"columns": part, "rows": [[r.name, *(values[k][i] for k in part)]
                                               for i, r in enumerate(runs)]} for part in parts],
            "study_yaml": yaml.safe_dump({**study, "scales": params["scales"]}, sort_keys=False)}


def environment_data(runs: list[FinishedRun]) -> dict:
    """How this was made (the code's commit, the CPU and its speed flags), and each run's software."""
    rows = [{"experiment": r.name, "device": r.trained["device"], "precision": r.trained["precision"],
             "threads": r.trained.get("threads", ""), "deterministic": r.cfg.get("deterministic"),
             "data_verified": r.trained["data_verified"], "load": load_text(machine_of(r)),
             "versions": [r.trained["versions"].get(k, "") for k in VERSION_KEYS]} for r in runs]
    made = [("code (git commit)", grouped(runs, commit_text)), ("machine", grouped(runs, cpu_text)),
            ("CPU flags that decide the speed", grouped(runs, flags_text))]
    return {"rows": rows, "made": made, "version_keys": VERSION_KEYS,
            "platforms": "; ".join(sorted({r.trained["versions"].get("platform", "?") for r in runs}))}
