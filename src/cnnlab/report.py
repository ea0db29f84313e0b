"""`cnnlab report`: the study's summary and reproduction tables, its figures, and one HTML page.

results/report.html is self-contained (figures as base64 data URIs, inline CSS, no scripts, no
external resources), so it can be handed in or mailed as one file.
"""

import base64
import html
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from cnnlab import config, plots
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_text, atomic_write_with, held_folder
from cnnlab.results import METRICS_KEYS, TRAIN_RECORD_KEYS, read_csv, read_json, require_keys
from cnnlab.train import HISTORY_COLUMNS

REFERENCES = Path("references.yaml")  # at the project's top, like params.yaml
REFERENCE_KINDS = {"lab": "the lab's text", "source": "original source",
                   "lab_code_here": "the lab's code, run here"}
REPRODUCED, BELOW, ABOVE, NOT_COMPARABLE, NO_REFERENCE = (
    "reproduced", "below", "above", "not comparable", "no reference")
# Keys that may differ from params.yaml in a run that still follows the recipe: another seed is
# another sample of it, and epochs are matched against each reference on their own.
NOT_RECIPE = {"epochs", "seed"}

SUMMARY_COLUMNS = ["experiment", "dataset", "model", "scale", "parameters", "flops_per_image", "epochs",
                   "best_epoch", "test_acc", "labs_best_test_acc", "labs_best_epoch", "train_seconds",
                   "images_per_sec", "peak_memory_mb", "train_size", "test_size", "device", "precision",
                   "data_verified"]
REPRODUCTION_COLUMNS = ["experiment", "scale", "epochs", "kind", "reference", "at_least", "reference_epochs",
                        "note", "ours", "ours_measure", "difference", "tolerance", "verdict", "reason"]

# What each figure shows: the caption under it in the report.
CAPTIONS = {
    "reproduction": (
        "Our test accuracy (black dots; checkpoint chosen on validation) next to the published "
        "numbers for the same experiment. Hollow markers are references this run cannot be "
        "compared with (smoke scale, other epochs, or a changed recipe): the reproduction table "
        "says why."),
    "mlp_vs_cnn": (
        "mlp_mnist, cnn_mnist and their _permuted twins: test accuracy of an MLP and a CNN of "
        "about the same size (6,442 vs 6,422 parameters), trained for one epoch on MNIST as it is"
        " and on MNIST with every image's pixels shuffled by the same fixed permutation. The "
        "CNN's lead comes from locality; shuffling destroys it while the MLP, which never used "
        "it, barely changes."),
    "vgg_vs_resnet": (
        "vgg_cifar10 vs resnet18_cifar10: per-epoch loss and accuracy of the lab's VGG and of "
        "ResNet-18 on CIFAR-10, training split (solid, averaged over the epoch's augmented "
        "batches) and test split (dashed, measured at the end of each epoch)."),
    "accuracy_vs_cost": (
        "Test accuracy against three costs: parameters, forward FLOPs per image (a multiply-add "
        "counts 2), and wall-clock training time on this run's machine. Log scales; one colour "
        "per experiment, one marker per dataset."),
    "curves": (
        "Loss and accuracy per epoch on the training split (averaged over the epoch's batches, "
        "while the model still learned), the validation split held out of the training set, and "
        "the test split (both measured at the end of the epoch). The dotted line marks the epoch "
        "whose checkpoint was kept: the best on validation."),
    "per_class": (
        "Test accuracy of the kept checkpoint for each class; each bar is labelled with correct /"
        " test images of that class, the dashed line is the accuracy over all classes."),
    "confusion": (
        "Confusion matrix of the kept checkpoint on the test set: rows are the actual classes, "
        "columns the predicted ones. Numbers are image counts; the colour is the share of the "
        "row, so rare and common classes read alike. The diagonal is what was right."),
    "samples": (
        "Test images with their true and predicted class: the first 16 of the test set and the "
        "first 16 misclassified ones, in test order (#n is the test index). Misclassified images "
        "are framed and titled in red. Images are shown as stored, before normalisation (and "
        "before any pixel permutation)."),
    "permutation": (
        "The same test images as stored (top) and as this experiment's model sees them (bottom): "
        "every image's pixel positions shuffled by one fixed, seeded permutation. Nothing of the "
        "content is lost for an MLP, but neighbouring pixels are no longer neighbours, which is "
        "all a convolution relies on."),
    "augmentation": (
        "The CIFAR augmentations on real training images: random 32x32 crop of the image padded "
        "by 4 pixels plus a random horizontal flip (the labs' recipe); MixUp blends two images "
        "and their labels with one weight lambda; CutMix pastes a box of a partner image and "
        "weights the labels by area."),
}
SUMMARY_NOTE = (
    "One row per evaluated experiment. Test accuracy is of the checkpoint chosen on a validation split "
    "held out of the training set; the labs instead keep the epoch that scores best on the test set, "
    "which flatters the number (shown for comparison). FLOPs: forward pass of one image, a multiply-add "
    "counts 2. Training time: wall clock of the training epochs with their validation and test passes. "
    "Peak memory: the process's peak resident set on CPU, peak tensor memory on CUDA.")
REPRODUCTION_NOTE = (
    "Our test accuracy next to the published numbers of STUDY.md: the lab's text, the original source, "
    "and the lab's own code run on this project's machines; Δ = ours minus the reference, in percentage "
    "points (pp). Verdicts use the tolerance stated in references.yaml{tolerance}. reproduced: within "
    "it; below / above: outside it (for a claim like \"98%+\" only below counts). "
    "not comparable: this run is not the reference's setting (smoke scale, fewer epochs than the "
    "reference, a changed recipe, or a source that does not state its epochs); the difference is "
    "shown but means nothing. Where a reference was measured after fewer epochs than this run has, "
    "ours is read from the same run's history at that epoch. All rows: results/reproduction.csv.")


@dataclass
class Run:
    """One evaluated experiment, as its results files describe it."""

    name: str
    trained: dict  # train.json
    metrics: dict  # metrics.json
    history: pd.DataFrame
    folder: Path

    @property
    def cfg(self) -> dict:
        return self.trained["config"]


def build_report(params: dict, results_dir: Path, references_path: Path = REFERENCES) -> Path:
    """Write summary.csv, reproduction.csv, figures/*.png and report.html into `results_dir`."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise CnnlabError(f"{results_dir}: no such folder; run `cnnlab train EXP` and `cnnlab evaluate EXP` "
                          "first (or point --results at the results folder)")
    with held_folder(results_dir, also_clean=("figures",)):
        runs = load_runs(params, results_dir)
        references = load_references(references_path, params)
        summary = summary_table(runs)
        reproduction = reproduction_table(params, runs, references)
        atomic_write_with(results_dir / "summary.csv", lambda p: summary.to_csv(p, index=False))
        atomic_write_with(results_dir / "reproduction.csv", lambda p: reproduction.to_csv(p, index=False))
        figures = plots.plot_study(summary, {r.name: r.history for r in runs}, reproduction,
                                   results_dir / "figures")
        page = render_html(params, runs, summary, reproduction, references["tolerance"], figures)
        report = results_dir / "report.html"
        atomic_write_text(report, page)
    return report


def load_runs(params: dict, results_dir: Path) -> list[Run]:
    """The evaluated experiments of the study (those with metrics.json), in catalog order."""
    runs = []
    for name in config.study_experiments(params):
        folder = results_dir / name
        if (folder / "metrics.json").is_file():
            fix = f"run `cnnlab train {name}` and `cnnlab evaluate {name}` again"
            runs.append(Run(name, read_json(folder / "train.json", TRAIN_RECORD_KEYS, fix),
                            read_json(folder / "metrics.json", METRICS_KEYS, fix),
                            read_csv(folder / "history.csv", HISTORY_COLUMNS, fix, numeric=True), folder))
    if not runs:
        raise CnnlabError(f"{results_dir} holds no evaluated experiment; run `cnnlab train EXP` and "
                          f"`cnnlab evaluate EXP` first (or point --results at the results folder)")
    return runs


def load_references(path: Path, params: dict) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CnnlabError(f"{path}: no such file; run `cnnlab report` from the project folder")
    try:
        references = yaml.safe_load(path.read_text())
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise CnnlabError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    fix = "see the comments at its top for the format"
    require_keys(references, ("tolerance", "experiments"), path, fix)
    if not is_number(references["tolerance"]) or references["tolerance"] < 0:
        raise CnnlabError(f"{path}: tolerance must be a number >= 0, not {references['tolerance']!r}")
    if not isinstance(references["experiments"], dict):
        raise CnnlabError(f"{path}: experiments must map experiment names to lists of references; {fix}")
    unknown = set(references["experiments"]) - set(params["experiments"])
    if unknown:
        raise CnnlabError(f"{path}: experiments not in params.yaml: {', '.join(sorted(unknown))}")
    for name, entries in references["experiments"].items():
        if not isinstance(entries, list):
            raise CnnlabError(f"{path}: {name}: expected a list of references; {fix}")
        for entry in entries:
            if not valid_reference(entry):
                raise CnnlabError(f"{path}: {name}: each reference needs kind ({', '.join(REFERENCE_KINDS)}),"
                                  f" value (a fraction in (0, 1]) and epochs (a number or null); got {entry}")
    return references


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def valid_reference(entry) -> bool:
    return (isinstance(entry, dict) and entry.get("kind") in REFERENCE_KINDS
            and is_number(entry.get("value")) and 0 < entry["value"] <= 1
            and (entry.get("epochs") is None or is_number(entry["epochs"])))


# ----------------------------------------------------------------------------- tables

def summary_table(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        t, m = run.trained, run.metrics
        rows.append({
            "experiment": run.name, "dataset": t["dataset"], "model": t["model"], "scale": run.cfg["scale"],
            "parameters": t["parameters"], "flops_per_image": t["flops_per_image"], "epochs": t["epochs"],
            "best_epoch": m["best_epoch"], "test_acc": m["test_acc"],
            "labs_best_test_acc": m["labs_best_test_acc"], "labs_best_epoch": m["labs_best_epoch"],
            "train_seconds": round(t["wall_seconds"], 2), "images_per_sec": round(t["images_per_sec"], 1),
            "peak_memory_mb": round(t["peak_memory_mb"], 1), "train_size": t["train_size"],
            "test_size": t["test_size"], "device": t["device"], "precision": t["precision"],
            "data_verified": t["data_verified"],
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def reproduction_table(params: dict, runs: list[Run], references: dict) -> pd.DataFrame:
    """One row per (experiment, reference); experiments without a reference get one row."""
    tolerance = references["tolerance"]
    rows = []
    for run in runs:
        base = {"experiment": run.name, "scale": run.cfg["scale"], "epochs": run.trained["epochs"],
                "ours": run.metrics["test_acc"], "tolerance": tolerance}
        entries = references["experiments"].get(run.name, [])
        if not entries:
            rows.append({**base, "ours_measure": selected_measure(run), "verdict": NO_REFERENCE,
                         "reason": "STUDY.md gives no published number for this experiment"})
        for entry in entries:
            rows.append({**base, **compare(params, run, entry, tolerance)})
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS).astype({"reference_epochs": "Int64"})


def selected_measure(run: Run) -> str:
    return f"test accuracy, checkpoint of epoch {run.metrics['best_epoch']} chosen on validation"


def compare(params: dict, run: Run, entry: dict, tolerance: float) -> dict:
    """Our number for this reference, the difference, and the verdict with its reason."""
    ref_epochs = entry.get("epochs")
    row = {"kind": entry["kind"], "reference": entry["value"], "at_least": bool(entry.get("at_least")),
           "reference_epochs": ref_epochs, "note": entry.get("note", ""),
           "ours": run.metrics["test_acc"], "ours_measure": selected_measure(run)}
    reason = incomparability(params, run, ref_epochs)
    if reason is None and ref_epochs < run.trained["epochs"]:  # the same run, read at that epoch
        at = run.history.loc[run.history["epoch"] == ref_epochs, "test_acc"]
        if at.empty:
            reason = f"history.csv has no epoch {ref_epochs}"
        else:
            row["ours"] = float(at.iloc[0])
            row["ours_measure"] = f"test accuracy after epoch {ref_epochs} (history.csv)"
    row["difference"] = round(row["ours"] - entry["value"], 6)
    if reason is not None:
        return {**row, "verdict": NOT_COMPARABLE, "reason": reason}
    if row["at_least"]:
        verdict = REPRODUCED if row["difference"] >= -tolerance else BELOW
        reason = f"the reference claims at least {entry['value']:.2%}"
    else:
        within = abs(row["difference"]) <= tolerance
        verdict = REPRODUCED if within else (BELOW if row["difference"] < 0 else ABOVE)
        reason = f"|difference| {'<=' if verdict == REPRODUCED else '>'} tolerance {tolerance:.2%}"
    return {**row, "verdict": verdict, "reason": reason}


def incomparability(params: dict, run: Run, ref_epochs: int | None) -> str | None:
    """Why this run cannot stand for the reference's recipe, or None when it can."""
    cfg = run.cfg
    if reduced_scale(params, cfg):
        settings = ", ".join(f"{k} {cfg.get(k)}" for k in params["scales"][cfg["scale"]])
        return f"{cfg['scale']} scale ({settings}): a check that the pipeline runs, not a reproduction"
    recipe = dict(params["experiments"].get(run.name, {}), val_size=params["data"]["val_size"])
    changed = [f"{k} {recipe[k]!r} -> {cfg.get(k)!r}" for k in recipe
               if k not in NOT_RECIPE and cfg.get(k) != recipe[k]]
    if changed:
        return f"recipe differs from params.yaml: {'; '.join(changed)}"
    if ref_epochs is None:
        return "the source does not state its number of epochs (its recipe differs from the lab's)"
    if ref_epochs > run.trained["epochs"]:
        return f"the reference is after {ref_epochs} epochs, this run trained {run.trained['epochs']}"
    return None


def reduced_scale(params: dict, cfg: dict) -> bool:
    """Smoke and the like: a scale that cuts the recipe down (subsets, fewer epochs)."""
    return bool(params["scales"].get(cfg["scale"]))


# ----------------------------------------------------------------------------- HTML

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
.reproduced { color: #1e7b34; } .below, .above { color: #b03a2e; }
.not-comparable, .no-reference { color: #777; }
.banner { background: #fff4d6; border: 1px solid #e0b84c; padding: 0.6rem 1rem; margin: 1rem 0; }
figure { margin: 1.2rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #333; max-width: 60rem; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
"""


def render_html(params, runs, summary, reproduction, tolerance, figures) -> str:
    smoke = sorted({r.cfg["scale"] for r in runs if reduced_scale(params, r.cfg)})
    banner = "" if not smoke else (
        f'<p class="banner">Runs at {", ".join(smoke)} scale are in this report: they train on small '
        "subsets for few epochs to check that the pipeline works. Their numbers are not results and "
        "are never counted as reproductions.</p>")
    run_names = [r.name for r in runs]
    chosen = config.study_experiments(params)
    not_run = [n for n in chosen if n not in run_names]
    left_out = [n for n in params["experiments"] if n not in chosen]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>cnnlab: the CNN week as one reproducible study</title>", f"<style>{CSS}</style></head><body>",
        "<h1>cnnlab: the CNN week as one reproducible study</h1>",
        f'<p class="small">{len(runs)} experiments evaluated: {esc(", ".join(run_names))}.'
        + (f" Not run: {esc(', '.join(not_run))}." if not_run else "")
        + (f" Left out of the study by <code>datasets</code> in params.yaml: {esc(', '.join(left_out))}."
           if left_out else "") + "</p>",
        banner,
        '<nav><a href="#summary">Summary</a> · <a href="#reproduction">Reproduction</a> · '
        '<a href="#study-figures">Study figures</a> · <a href="#experiments">Experiments</a> · '
        '<a href="#parameters">Parameters</a> · <a href="#environment">Environment</a></nav>',
        '<h2 id="summary">Summary</h2>', summary_html(summary),
        '<h2 id="reproduction">Reproduction</h2>', reproduction_html(reproduction, summary, tolerance),
        '<h2 id="study-figures">Study figures</h2>',
        *(figure_html(path, CAPTIONS[name]) for name, path in figures.items()),
        '<h2 id="experiments">Experiments</h2>',
        *(experiment_html(run) for run in runs),
        '<h2 id="parameters">Parameters</h2>', parameters_html(params, runs),
        '<h2 id="environment">Environment</h2>', environment_html(runs),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def esc(value) -> str:
    return html.escape(str(value))


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


def pct(fraction) -> str:
    return "–" if fraction is None or pd.isna(fraction) else f"{fraction * 100:.2f} %"


def flops(n: float) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e9 else f"{n / 1e6:.2f} M"


def summary_html(summary: pd.DataFrame) -> str:
    headers = ["experiment", "dataset", "model", "scale", "parameters", "FLOPs / image", "epochs",
               "test acc. (chosen on validation)", "test acc. (best epoch on test, the labs' way)",
               "training time", "images / s", "peak memory"]
    rows = [[esc(r.experiment), esc(r.dataset), esc(r.model), esc(r.scale), f"{r.parameters:,}",
             flops(r.flops_per_image), str(r.epochs), f"{pct(r.test_acc)}{epoch_note(r.best_epoch)}",
             f"{pct(r.labs_best_test_acc)}{epoch_note(r.labs_best_epoch)}", f"{r.train_seconds:,.1f} s",
             f"{r.images_per_sec:,.0f}", f"{r.peak_memory_mb:,.0f} MB"]
            for r in summary.itertuples()]
    return (table_html(headers, rows, numeric={4, 5, 6, 7, 8, 9, 10, 11}, table_id="summary-table")
            + f'<p class="small">{esc(SUMMARY_NOTE)} Device, precision and data verification: see '
              '<a href="#environment">Environment</a>.</p>')


def epoch_note(epoch: int) -> str:
    return f'<br><span class="small">epoch {epoch}</span>'


def reproduction_html(reproduction: pd.DataFrame, summary: pd.DataFrame, tolerance: float) -> str:
    """One row per experiment: ours, then each kind of reference with its difference and verdict."""
    headers = ["experiment", "scale, epochs", "ours (test acc.)", *REFERENCE_KINDS.values(), "verdicts"]
    selected = summary.set_index("experiment")["test_acc"]
    rows = []
    for name, group in reproduction.groupby("experiment", sort=False):
        first = group.iloc[0]
        cells = [esc(name), esc(f"{first.scale}, {first.epochs}"), pct(selected[name])]
        for kind in REFERENCE_KINDS:
            entries = group[group["kind"] == kind]
            cells.append("<br>".join(reference_cell(e, selected[name]) for e in entries.itertuples()) or "–")
        counts = group["verdict"].value_counts()
        cells.append("<br>".join(f'<span class="verdict {css_class(v)}">{esc(v)}</span>'
                                 + (f" ({n})" if len(group) > 1 else "") for v, n in counts.items()))
        rows.append(cells)
    legend = REPRODUCTION_NOTE.format(
        tolerance=f" (±{tolerance * 100:.1f} percentage points of test accuracy)")
    return table_html(headers, rows, table_id="reproduction-table") + f'<p class="small">{esc(legend)}</p>'


def reference_cell(entry, selected_acc: float) -> str:
    value = pct(entry.reference) + ("+" if entry.at_least else "")
    epochs = "epochs unknown" if pd.isna(entry.reference_epochs) else f"{int(entry.reference_epochs)} ep."
    # a reference after fewer epochs is compared with the same run at that epoch: say so
    ours = "" if entry.ours == selected_acc else (
        f'<br><span class="small">ours: {pct(entry.ours)}, {esc(entry.ours_measure)}</span>')
    return (f'{value} <span class="small">({epochs})</span>{ours}<br>'
            f'Δ {entry.difference * 100:+.2f} pp · <span class="verdict {css_class(entry.verdict)}">'
            f'{esc(entry.verdict)}</span><br><span class="small" title="{esc(entry.reason)}">'
            f"{esc(entry.note)}</span>")


def css_class(verdict: str) -> str:
    return verdict.replace(" ", "-")


def figure_html(path: Path, caption: str, alt: str = "") -> str:
    path = Path(path)
    if not path.is_file():
        return f'<p class="banner">Missing figure {esc(path)}: run the pipeline\'s plot step.</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt or path.stem)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def experiment_html(run: Run) -> str:
    cfg, m = run.cfg, run.metrics
    head = (f'<h3 id="{esc(run.name)}">{esc(run.name)}</h3><p class="small">{esc(cfg["model"])} on '
            f'{esc(plots.DATASET_TITLES[cfg["dataset"]])}, {esc(cfg["scale"])} scale, '
            f'{run.trained["epochs"]} epochs; test accuracy {pct(m["test_acc"])} '
            f'(epoch {m["best_epoch"]}, chosen on validation).</p>')
    figures = [figure_html(run.folder / "plots" / f"{name}.png", CAPTIONS[name], f"{run.name} {name}")
               for name in plots.plot_names(cfg)]
    return head + "\n".join(figures)


RECIPE_KEYS = ["dataset", "model", "optimizer", "lr", "momentum", "weight_decay", "scheduler", "epochs",
               "batch_size", "loss", "init", "normalize", "augment", "mix", "permute", "shuffle", "seed",
               "limit_train", "limit_test", "val_size"]


def parameters_html(params: dict, runs: list[Run]) -> str:
    """The recipe keys as the runs used them: shared values once, the differing ones in a table."""
    values = {k: [r.cfg.get(k, "") for r in runs] for k in RECIPE_KEYS}
    shared = {k: v[0] for k, v in values.items() if all(x == v[0] for x in v)}
    differing = [k for k in RECIPE_KEYS if k not in shared]
    rows = [[esc(r.name), *(esc(values[k][i]) for k in differing)] for i, r in enumerate(runs)]
    study = {k: params.get(k) for k in (*config.STUDY_KEYS, "datasets")} | {"data": params["data"]}
    return ("<p>Each run's settings as recorded in its train.json (params.yaml, the scale and any "
            "<code>--set</code> overrides applied). The same in every run: "
            + esc(", ".join(f"{k} {v}" for k, v in shared.items()) or "nothing") + ".</p>"
            + (table_html(["experiment", *differing], rows) if differing else "")
            + "<details><summary>params.yaml (study-wide settings and scales)</summary><pre>"
            + esc(yaml.safe_dump({**study, "scales": params["scales"]}, sort_keys=False))
            + "</pre></details>")


def environment_html(runs: list[Run]) -> str:
    version_keys = ["python", "torch", "torchvision", "numpy", "cnnlab"]
    headers = ["experiment", "device", "precision", "threads", "deterministic", "data verified",
               *version_keys]
    rows = [[esc(r.name), esc(r.trained["device"]), esc(r.trained["precision"]),
             esc(r.trained.get("threads", "")), esc(r.cfg.get("deterministic")),
             "yes" if r.trained["data_verified"] else "<b>no</b>",
             *(esc(r.trained["versions"].get(k, "")) for k in version_keys)] for r in runs]
    platforms = sorted({r.trained["versions"].get("platform", "?") for r in runs})
    return (table_html(headers, rows)
            + f'<p class="small">Platform: {esc("; ".join(platforms))}. "data verified: no" means the '
              "dataset files are not the canonical ones (their digests were not checked or did not "
              "match).</p>")


# ----------------------------------------------------------------------------- snakemake --report

RST_FOLDER = Path("workflow/report")


def rst_captions() -> dict[str, str]:
    """The captions of `snakemake --report` (file name -> text), made from the report's own.

    One per figure kind and table; and plots.rst / figures.rst for the directory outputs
    results/EXP/plots and results/figures, marked with patterns=["{name}.png"]: a directory shares
    one caption, so these pick the kind's text by the {name} wildcard.
    """
    def wrap(text: str) -> str:
        return textwrap.fill(text, width=100) + "\n"

    def by_name(kinds) -> str:
        branches = "".join(f"{{% {'if' if i == 0 else 'elif'} snakemake.wildcards.name == \"{k}\" %}}\n"
                           f"{wrap(CAPTIONS[k])}" for i, k in enumerate(kinds))
        return branches + "{% endif %}\n"

    kinds = list(CAPTIONS)
    captions = {f"{kind}.rst": wrap(CAPTIONS[kind]) for kind in kinds}
    captions["plots.rst"] = by_name([k for k in kinds if k not in plots.STUDY_FIGURES])
    captions["figures.rst"] = by_name(plots.STUDY_FIGURES)
    captions["summary.rst"] = wrap(SUMMARY_NOTE)
    captions["reproduction_table.rst"] = wrap(REPRODUCTION_NOTE.format(tolerance=""))
    captions["report.rst"] = wrap(
        "The study report: one self-contained HTML page (figures embedded) with the summary table, "
        "the reproduction table, every figure with its caption, the parameters and the environment.")
    return captions


def write_rst_captions(folder: Path = RST_FOLDER) -> None:
    for name, text in rst_captions().items():
        atomic_write_text(Path(folder) / name, text)
