"""Figures and the study report, checked as a reader would: built from real smoke-scale runs, the
HTML opened in a real headless Chromium (console, images, tables, a screenshot).

One module-scoped study: a synthetic mirror (MNIST and CIFAR-10 in their real formats), then the
`cnnlab` command line: fetch, train, evaluate, summarize, plot, report, for the MLP/CNN pairs and
one CIFAR experiment with two epochs, at scale=smoke (two seeds each).
"""

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pandas as pd
import pytest
import yaml
from matplotlib.collections import PolyCollection
from matplotlib.text import Text
from PIL import Image

from cnnlab import config
from cnnlab.analysis.statistics import describe
from cnnlab.errors import CnnlabError
from cnnlab.reporting import (
    captions,
    experiment_figures,
    experiment_inputs,
    publish,
    references,
    report,
    study_figures,
    tables,
)
from cnnlab.reporting.intervals import comparison_sentence
from cnnlab.reporting.page import CSS, parameters_html
from cnnlab.reporting.style import save
from cnnlab.results.records import FinishedRun
from synthetic import write_mirror

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = {  # name -> extra --set overrides; two epochs so the curves have two points
    "mlp_mnist": [], "cnn_mnist": [], "mlp_mnist_permuted": [], "cnn_mnist_permuted": [],
    "convnet_cifar10": ["epochs=2"],
}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# where the browser test leaves its screenshot (default: the module's temporary study folder)
SCREENSHOT_DIR = os.environ.get("CNNLAB_SCREENSHOT_DIR")


def overrides(name: str) -> list[str]:
    return ["scale=smoke", *EXPERIMENTS[name]]


def cli_calls(params: Path, results: Path) -> list[list[str]]:
    """The command lines of a whole study, in pipeline order."""
    calls = [["--params", str(params), "fetch", d, "--no-verify"] for d in ("mnist", "cifar10")]
    for step in ("train", "evaluate", "summarize", "plot"):
        for name in EXPERIMENTS:
            sets = [arg for o in overrides(name) for arg in ("--set", o)]
            calls.append(["--params", str(params), step, name, *sets, "--out", str(results / name)])
    calls.append(["--params", str(params), "report", "--results", str(results)])
    return calls


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    mirror = write_mirror(folder / "mirror", datasets=("mnist", "cifar10"), n_train=800, n_test=300)
    params = config.read_params(REPO / "params.yaml")
    params["data"].update(root=str(folder / "data"), mirror=str(mirror))
    params["datasets"] = ["mnist", "fashion_mnist", "cifar10"]  # as on a GPU: the report of the whole study
    params_path = folder / "params.yaml"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    results = folder / "results"
    # One Python runs every command (the import of torch once, not 17 times); each call is the
    # real entry point, from the project folder as the pipeline runs it (references.yaml).
    script = ("import sys, json\nfrom cnnlab.cli import main\n"
              "for argv in json.loads(sys.argv[1]):\n"
              "    code = main(argv)\n"
              "    if code: sys.exit(f'cnnlab {argv} exited {code}')\n")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(cli_calls(params_path, results))],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, CNNLAB_DATA_MIRROR=str(mirror)))  # beats CI's mirror
    assert done.returncode == 0, done.stderr[-3000:]
    return {"folder": folder, "params": config.load_params(params_path), "results": results,
            "stdout": done.stdout}


def test_every_experiment_gets_its_figures_at_150_dpi(study):
    for name in EXPERIMENTS:
        cfg = config.experiment_config(study["params"], name, overrides(name))
        expected = experiment_figures.plot_names(cfg)
        made = sorted(p.stem for p in (study["results"] / name / "plots").glob("*.png"))
        assert made == sorted(expected), name
        assert ("permutation" in expected) == name.endswith("_permuted")
        assert ("augmentation" in expected) == (cfg["dataset"] == "cifar10")
        for stem in expected:
            with Image.open(study["results"] / name / "plots" / f"{stem}.png") as image:
                assert image.info["dpi"][0] >= 150 - 0.5, (name, stem)  # PNG stores dots per metre
                assert min(image.size) > 300
    # no VGG or ResNet-18 among EXPERIMENTS: their comparison is left out, not drawn empty
    made = sorted(p.stem for p in (study["results"] / "figures").glob("*.png"))
    assert made == sorted(set(study_figures.STUDY_FIGURES) - {"vgg_vs_resnet"})


def test_plot_refuses_results_of_other_parameters(study):
    cfg = config.experiment_config(study["params"], "mlp_mnist", [*overrides("mlp_mnist"), "lr=0.5"])
    with pytest.raises(CnnlabError, match="other parameters"):
        experiment_figures.plot_experiment(cfg, study["results"] / "mlp_mnist")


def test_summary_has_a_row_per_experiment_with_the_results_files_numbers(study):
    summary = pd.read_csv(study["results"] / "summary.csv")
    assert list(summary.columns) == tables.SUMMARY_COLUMNS
    assert list(summary["experiment"]) == list(EXPERIMENTS)
    for row in summary.itertuples():
        per_seed = pd.read_csv(study["results"] / row.experiment / "seeds.csv")
        trained = json.loads((study["results"] / row.experiment / "runs/seed0/train.json").read_text())
        assert row.test_acc == pytest.approx(per_seed["test_acc"].mean(), abs=1e-6)
        assert row.labs_best_test_acc == pytest.approx(per_seed["labs_best_test_acc"].mean(), abs=1e-6)
        assert (row.parameters, row.flops_per_image, row.epochs) == (
            trained["parameters"], trained["flops_per_image"], trained["epochs"])
        assert row.scale == "smoke"
    assert summary.set_index("experiment").loc["convnet_cifar10", "epochs"] == 2


def test_a_smoke_run_is_never_called_a_reproduction(study):
    table = pd.read_csv(study["results"] / "reproduction.csv")
    assert list(table.columns) == tables.REPRODUCTION_COLUMNS
    assert set(table["experiment"]) == set(EXPERIMENTS)
    with_reference = table[table["experiment"] != "convnet_cifar10"]
    assert len(with_reference) == 12  # lab, source, lab's code here for each of E2 and E2b
    assert (with_reference["verdict"] == tables.NOT_COMPARABLE).all()
    assert with_reference["reason"].str.startswith("smoke scale").all()
    assert table.loc[table["experiment"] == "convnet_cifar10", "verdict"].tolist() == [tables.NO_REFERENCE]


def full_scale_run(study, name: str, test_acc: float | list[float], epochs: int | None = None) -> FinishedRun:
    """A real experiment's runs, relabelled as the full-scale recipe with other accuracies (one a
    seed; a number: one seed): the verdict logic on numbers a smoke run cannot reach."""
    accuracies = test_acc if isinstance(test_acc, list) else [test_acc]
    experiment = report.load_runs(study["params"], study["results"])[list(EXPERIMENTS).index(name)]
    cfg = config.experiment_config(study["params"], name, [f"epochs={epochs}"] if epochs else [])
    cfg["seeds"] = list(range(len(accuracies)))
    runs = []
    for seed, accuracy in enumerate(accuracies):
        real = experiment.runs[seed % len(experiment.runs)]
        runs.append(FinishedRun(name, {**real.trained, "config": config.run_config(cfg, seed),
                                       "epochs": cfg["epochs"]},
                                {**real.metrics, "test_acc": accuracy}, real.history, real.folder))
    mean = sum(accuracies) / len(accuracies)
    return FinishedRun(name, runs[0].trained, {**experiment.metrics, "test_acc": mean}, runs[0].history,
                       experiment.folder, experiment.summary, runs)


@pytest.mark.parametrize("accuracies, verdict", [
    ([0.885, 0.889, 0.891], "reproduced"),
    ([0.95, 0.951, 0.952], "ours above"),
    ([0.80, 0.801, 0.802], "ours below"),
    ([0.8877, 0.8877, 0.8877], "reproduced"),  # no spread: only the reference's rounding (0.1 pp)
    ([0.8860, 0.8860, 0.8860], "ours below"),  # 0.888 lies beyond it
    ([0.888], "one seed"),
])
def test_verdict_from_the_prediction_interval_of_our_seeds(study, accuracies, verdict):
    run = full_scale_run(study, "mlp_mnist", accuracies)
    known = references.load_references(REPO / "references.yaml", study["params"])
    table = tables.reproduction_table(study["params"], [run], known)
    here = table[table["kind"] == "lab_code_here"].iloc[0]
    assert (here["reference"], here["rounding"], here["n"]) == (0.888, pytest.approx(0.001), len(accuracies))
    assert here["verdict"] == verdict
    mean = sum(accuracies) / len(accuracies)
    assert here["ours"] == pytest.approx(mean) and here["difference"] == pytest.approx(mean - 0.888, abs=1e-6)
    if len(accuracies) > 1:
        assert here["ours_low"] < mean < here["ours_high"]


def test_comparisons_are_paired_over_the_seeds_and_say_what_the_numbers_support(study):
    table = pd.read_csv(study["results"] / "comparisons.csv")
    assert list(table.columns) == tables.COMPARISON_COLUMNS
    e2 = table.set_index("comparison").loc["CNN vs MLP (E2)"]
    cnn = pd.read_csv(study["results"] / "cnn_mnist" / "seeds.csv").set_index("seed")["test_acc"]
    mlp = pd.read_csv(study["results"] / "mlp_mnist" / "seeds.csv").set_index("seed")["test_acc"]
    assert e2["n"] == 2 and [float(d) for d in e2["differences"].split()] == pytest.approx(
        list(cnn - mlp), abs=1e-4)
    assert e2["mean_diff"] == pytest.approx((cnn - mlp).mean(), abs=1e-6)
    assert "ResNet-18 vs VGG (E4 vs E3)" not in set(table["comparison"])  # neither was run
    assert len(table) == 4 + len(EXPERIMENTS)  # E2/E2b claims, then best-on-test vs validation each
    page = (study["results"] / "report.html").read_text()
    section = page.split('<h2 id="comparisons">')[1].split("<h2")[0]
    assert "CNN vs MLP (E2)" in section and "of 2 seeds" in section
    # made-up seeds: a difference whose interval excludes 0 is called so; one that contains 0 is noise
    a = full_scale_run(study, "cnn_mnist", [0.95, 0.96, 0.97])
    b = full_scale_run(study, "mlp_mnist", [0.90, 0.90, 0.91])
    c = full_scale_run(study, "mlp_mnist", [0.94, 0.98, 0.95])
    clear = next(tables.comparison_table(study["params"], [a, b]).itertuples())
    assert clear.ci_low > 0 and "cnn_mnist is better by +5.67 pp" in comparison_sentence(clear)
    noise = next(tables.comparison_table(study["params"], [a, c]).itertuples())
    assert "within the noise" in comparison_sentence(noise)


@pytest.mark.parametrize("value, rounding", [(0.98, 0.01), (0.80, 0.01), (0.977, 0.001), (0.9905, 0.0001),
                                             (0.8733, 0.0001), (0.5, 0.01)])
def test_a_published_numbers_rounding_is_read_from_its_percent(value, rounding):
    assert tables.rounding(value) == pytest.approx(rounding)


def test_changed_recipe_or_fewer_epochs_are_not_comparable(study):
    params = study["params"]
    two_epochs = full_scale_run(study, "convnet_cifar10", 0.5, epochs=2)
    assert tables.incomparability(params, two_epochs, 20) == (
        "the reference is after 20 epochs, this run trained 2")
    changed = full_scale_run(study, "mlp_mnist", 0.888)
    changed.trained["config"] = {**changed.cfg, "lr": 0.1}
    assert tables.incomparability(params, changed, 1).startswith("recipe differs from params.yaml: lr")
    assert "does not state" in tables.incomparability(params, full_scale_run(study, "mlp_mnist", 0.9), None)


def test_a_reference_after_fewer_epochs_reads_that_epoch_of_the_history(study):
    run = full_scale_run(study, "convnet_cifar10", 0.5, epochs=2)
    entry = {"kind": "lab_code_here", "value": 0.30, "epochs": 1}
    row = tables.compare(study["params"], run, entry)
    assert row["ours"] == pytest.approx(run.history.loc[0, "test_acc"])
    assert row["ours_measure"] == "test accuracy after epoch 1 (history.csv)"
    run = full_scale_run(study, "convnet_cifar10", [0.5, 0.52], epochs=2)
    floor = tables.compare(study["params"], run, {**entry, "epochs": 2, "at_least": True, "value": 0.4})
    assert floor["verdict"] == "reproduced"  # 0.5 is above a "40%+" claim: that is no miss


def test_report_refuses_an_empty_results_folder(study, tmp_path):
    with pytest.raises(CnnlabError, match="no evaluated experiment"):
        report.build_report(study["params"], tmp_path)


def test_report_is_one_self_contained_file(study):
    page = (study["results"] / "report.html").read_text()
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    figures = sum(len(experiment_figures.plot_names(config.experiment_config(study["params"], n,
                                                                             overrides(n))))
                  for n in EXPERIMENTS)
    assert len(images) == figures + len(study_figures.STUDY_FIGURES) - 1  # no VGG-vs-ResNet-18 figure
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
    assert len(re.findall(r"<figcaption>.+?</figcaption>", page)) == len(images)
    assert "smoke scale are in this report" in page  # the reader is told these are no results


def test_rst_captions_read_the_experiments_of_a_figure_from_params_yaml():
    """Snakemake renders workflow/report/figures.rst with its config, params.yaml: each study figure's
    caption comes out as the report's, the experiments that params.yaml names in it."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    rst = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(
        (REPO / "workflow" / "report" / "figures.rst").read_text())  # as Snakemake's report makes it
    for name, kind in study_figures.STUDY_FIGURES.items():
        caption = rst.render(snakemake=SimpleNamespace(config=params, wildcards=SimpleNamespace(name=name)))
        assert caption.split() == study_figures.study_caption(kind.caption, name, params).split()


def test_rst_captions_are_made_from_the_declarations():
    """workflow/report/ holds the captions made from the figures' declarations and the tables'
    notes, none out of date, and no .rst file that the workflow does not name."""
    folder = REPO / "workflow" / "report"
    for name, text in captions.rst_captions().items():
        assert (folder / name).read_text() == text, (
            f"{folder / name} is out of date: run `python -m cnnlab.reporting.captions`")
    rules = [REPO / "workflow" / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]
    workflow = "".join(path.read_text() for path in rules)
    unused = [p.name for p in folder.glob("*.rst") if f"report/{p.name}" not in workflow]
    assert unused == [], f"{folder} holds captions no rule uses: {unused}"


def test_parameters_show_every_key_of_the_schema(study):
    """The report's parameters are the schema's experiment keys: E4-long's milestones show."""
    params = study["params"]
    page_text = (study["results"] / "report.html").read_text()
    section = page_text.split('<h2 id="parameters">')[1].split('<h2 id="environment">')[0]
    for key in config.schema()["$defs"]["experiment"]["properties"]:
        assert f"{key} " in section or f"<th>{key}</th>" in section, key
    run = full_scale_run(study, "mlp_mnist", 0.9)
    long_cfg = config.experiment_config(params, "resnet18_cifar10_long")
    long_run = FinishedRun("resnet18_cifar10_long", {**run.trained, "config": long_cfg}, run.metrics,
                           run.history, run.folder)
    shown = parameters_html(params, [run, long_run])
    for key, value in (("milestones", "[82, 123]"), ("gamma", "0.1"), ("trainable", "all")):
        assert f"<th>{key}</th>" in shown or f"{key} {value}" in shown, key
    assert "<td>[82, 123]</td>" in shown


def inputs_of(study, name: str) -> experiment_inputs.FigureInputs:
    cfg = config.experiment_config(study["params"], name, overrides(name))
    return experiment_inputs.read_inputs(cfg, study["results"] / name)


def titles(fig) -> list[str]:
    """The figure's title and its panels' titles."""
    return [t.get_text() for t in (fig._suptitle, *(ax.title for ax in fig.axes)) if t and t.get_text()]


def points(ax, gid: str) -> list[tuple[float, float]]:
    """(x, y) of the markers an axes drew with that gid."""
    return [tuple(xy) for c in ax.collections if c.get_gid() == gid for xy in c.get_offsets()]


def test_reproduction_figure_compares_like_with_like_and_draws_a_floor_as_a_floor(study):
    """Each reference sits on its own line next to the number of ours the table compares it with
    (after 1 epoch: the run's first epoch, not its last); a "50%+" floor is a band from 50 to 100 %."""
    run = full_scale_run(study, "convnet_cifar10", 0.6, epochs=2)
    known = {"experiments": {"convnet_cifar10": [
        {"kind": "lab", "value": 0.5, "at_least": True, "epochs": 2},
        {"kind": "lab_code_here", "value": 0.3, "epochs": 1},
        {"kind": "source", "value": 0.9, "epochs": None}]}}
    table = tables.reproduction_table(study["params"], [run], known)
    assert table.loc[1, "ours"] == pytest.approx(run.history.loc[0, "test_acc"]) != pytest.approx(0.6)
    fig = study_figures.reproduction_figure(study_figures.StudyInputs(
        tables.summary_table([run]), table, {run.name: run}, study["params"]["figures"]))
    ax = fig.axes[0]
    ours = {y: x for x, y in points(ax, "ours")}
    assert ours == pytest.approx({i: row.ours * 100 for i, row in table.iterrows()})
    assert sorted(y for _, y in points(ax, "reference")) == [1, 2]  # the floor is no plain marker
    (band,) = [p for p in ax.patches if p.get_gid() == "floor"]
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((50, 100))
    assert band.get_y() < 0 < band.get_y() + band.get_height()  # on the floor's own line
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[1] == "convnet_cifar10: the lab's code, run here, after 1 epoch"
    assert labels[2].endswith("epochs not stated (not comparable)")


def test_per_class_axis_is_zoomed_to_the_classes_and_says_so(study):
    inputs = inputs_of(study, "cnn_mnist")
    ax = experiment_figures.per_class_figure(inputs).axes[0]
    assert ax.get_xlim()[0] == 0  # smoke accuracies: some class is below 50 %
    per_class = inputs.tables["per_class"]
    accuracy = [0.976 + 0.022 * i / (len(per_class) - 1) for i in range(len(per_class))]
    inputs.tables["per_class"] = per_class.assign(accuracy=accuracy, accuracy_min=accuracy,
                                                  accuracy_max=accuracy)  # one seed's spread: none
    ax = experiment_figures.per_class_figure(inputs).axes[0]
    start = ax.get_xlim()[0]
    assert 90 < start < 97.6 and f"starts at {start:g} %, not at 0" in ax.get_xlabel()
    assert not ax.containers  # dots: a bar's length from a cut axis would mean nothing


def test_a_one_epoch_run_gets_no_curve_of_single_points(study):
    one = experiment_figures.curves_figure(inputs_of(study, "cnn_mnist"))  # smoke: 1 epoch
    assert all(len(line.get_xdata()) != 1 for ax in one.axes for line in ax.lines)
    assert "only epoch" in titles(one)[0]
    assert len(one.axes[1].containers) == 3  # train, validation, test
    two = experiment_figures.curves_figure(inputs_of(study, "convnet_cifar10"))
    assert any(len(line.get_xdata()) == 2 for line in two.axes[0].lines)


@pytest.mark.parametrize("name", ["mlp_mnist_permuted", "cnn_mnist_permuted", "mlp_mnist"])
def test_every_figure_of_a_permuted_run_says_the_pixels_were_shuffled(study, name):
    inputs = inputs_of(study, name)
    for figure in experiment_figures.plot_names(inputs.run.cfg):
        said = any("shuffled pixels" in t for t in titles(experiment_figures.FIGURES[figure].draw(inputs)))
        assert said == name.endswith("_permuted"), figure


def test_accuracy_vs_cost_has_a_row_per_dataset_and_a_legend_of_experiments(study):
    inputs = replicated_inputs(study)
    fig = study_figures.cost_figure(inputs)
    by_dataset = inputs.summary.groupby("dataset", sort=False)["experiment"].apply(list)
    assert len(fig.axes) == 3 * len(by_dataset) and not fig.legends
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes if ax.get_legend()]
    assert legends == list(by_dataset)
    for row, experiments in enumerate(by_dataset):  # each panel holds its row's dataset only
        assert all(len(ax.collections) == len(experiments) for ax in fig.axes[3 * row:3 * row + 3])


def test_no_caption_title_or_table_says_1_epochs(study):
    page = (study["results"] / "report.html").read_text()
    assert "1 epoch, " in page  # the smoke runs trained one epoch: the page says so, in the singular
    texts = [page, *(kind.caption for kind in [*experiment_figures.FIGURES.values(),
                                               *study_figures.STUDY_FIGURES.values()])]
    inputs = replicated_inputs(study)
    figures = [kind.draw(inputs) for kind in study_figures.STUDY_FIGURES.values()]
    for name in EXPERIMENTS:
        one = inputs_of(study, name)
        figures += [experiment_figures.FIGURES[f].draw(one)
                    for f in experiment_figures.plot_names(one.run.cfg)]
    texts += [t.get_text() for fig in figures for t in fig.findobj(Text)]
    assert not [t for t in texts if re.search(r"\b1 epochs\b", t)]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium); "
                                             "CI installs it")
def test_the_parameters_of_the_whole_catalog_fit_the_page(study, tmp_path):
    """Every experiment of params.yaml (the most keys that differ): no table is wider than the page."""
    run = full_scale_run(study, "mlp_mnist", 0.9)
    runs = [FinishedRun(name, {**run.trained, "config": config.experiment_config(study["params"], name)},
                        run.metrics, run.history, run.folder) for name in study["params"]["experiments"]]
    page = tmp_path / "parameters.html"
    page.write_text(f"<!DOCTYPE html><html><head><style>{CSS}</style></head><body>"
                    f"{parameters_html(study['params'], runs)}</body></html>")
    with Browser(tmp_path) as browser:
        browser.open(page.as_uri())
        widths = browser.evaluate("[...document.querySelectorAll('table')]"
                                  ".map(t => [t.scrollWidth, t.parentElement.clientWidth])")
    assert len(widths) > 1 and all(table <= page_width for table, page_width in widths), widths


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium); "
                                             "CI installs it")
def test_report_in_a_real_browser(study, tmp_path):
    page = study["results"] / "report.html"
    screenshot = Path(SCREENSHOT_DIR or study["folder"]) / "report.png"
    with Browser(tmp_path) as browser:
        errors = browser.open(page.as_uri())
        state = browser.evaluate("""({
            images: document.images.length,
            loaded: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
            summaryRows: document.querySelectorAll('#summary-table tbody tr').length,
            reproductionRows: document.querySelectorAll('#reproduction-table tbody tr').length,
            external: [...document.querySelectorAll('[src], [href]')]
                .map(e => e.getAttribute('src') || e.getAttribute('href'))
                .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
        })""")
        browser.screenshot(screenshot)
    assert errors == []
    assert state["images"] > 0 and state["loaded"] == state["images"]
    assert state["summaryRows"] == state["reproductionRows"] == len(EXPERIMENTS)
    assert state["external"] == []
    with Image.open(screenshot) as image:
        assert image.size[0] >= 1200
    print(f"screenshot: {screenshot}")


class Browser:
    """Headless Chromium driven over the DevTools protocol (a websocket), with its own profile."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self):
        import websocket  # websocket-client

        profile = self.folder / "chromium-profile"
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,1600",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            target = next(t for t in json.load(answer) if t["type"] == "page")
        self.socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30,
                                                  suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=10)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.socket.recv()))

    def open(self, url: str) -> list[str]:
        """Load `url`; returns the console errors, uncaught exceptions and failed loads."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")
        errors = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e.get("method") == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(p["entry"]["text"])
        return errors

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The whole page, top to bottom, as a PNG."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


# ------------------------------------------------------------------ figures over seeds (issue 11)

def replicated_inputs(study) -> study_figures.StudyInputs:
    """The study figures' inputs as `cnnlab report` makes them: each experiment with its seeds' runs."""
    runs = report.load_runs(study["params"], study["results"])
    return study_figures.StudyInputs(pd.read_csv(study["results"] / "summary.csv"),
                                     pd.read_csv(study["results"] / "reproduction.csv"),
                                     {r.name: r for r in runs}, study["params"]["figures"])


def seed_column(study, name: str, column: str = "test_acc") -> dict[int, float]:
    """seed -> the column of seeds.csv (accuracies in %)."""
    per_seed = pd.read_csv(study["results"] / name / "seeds.csv")
    return {int(seed): value * 100 for seed, value in zip(per_seed["seed"], per_seed[column])}


def flat(pairs) -> list[float]:
    """[(a, b), (c, d)] -> [a, b, c, d], for pytest.approx."""
    return [value for pair in pairs for value in pair]


def bands(ax) -> list:
    """The filled bands (fill_between) of an axes."""
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_curves_of_two_seeds_have_a_band_of_the_interval_of_the_mean_and_of_one_seed_none(study):
    inputs = inputs_of(study, "convnet_cifar10")  # two seeds, two epochs
    fig = experiment_figures.curves_figure(inputs)
    assert [len(bands(ax)) for ax in fig.axes] == [3, 3]  # train, validation, test
    assert "mean of 2 seeds (band: 95 % interval of the mean)" in titles(fig)[0]
    test_band = bands(fig.axes[1])[2].get_paths()[0].vertices
    at_epoch_2 = sorted(y for x, y in test_band if x == 2)
    second = describe([run.history.loc[1, "test_acc"] * 100 for run in inputs.runs])
    assert [at_epoch_2[0], at_epoch_2[-1]] == pytest.approx([second["ci_low"], second["ci_high"]])
    one = experiment_figures.curves_figure(dataclasses.replace(inputs, runs=inputs.runs[:1]))
    assert [len(bands(ax)) for ax in one.axes] == [0, 0]
    assert titles(one)[0].endswith("1 seed")


def test_a_figure_drawn_again_from_the_same_runs_is_the_same_png(study, tmp_path):
    inputs = inputs_of(study, "cnn_mnist")  # smoke: the one-epoch bars with a dot a seed
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    save(experiment_figures.curves_figure(inputs), first)
    save(experiment_figures.curves_figure(inputs), second)
    assert first.read_bytes() == second.read_bytes()


def test_one_epoch_bars_show_each_seed_as_a_dot(study):
    inputs = inputs_of(study, "cnn_mnist")  # smoke: 1 epoch, 2 seeds
    fig = experiment_figures.curves_figure(inputs)
    dots = sorted(y for c in fig.axes[1].collections for _, y in c.get_offsets())
    each_seed = [run.history.loc[0, f"{split}_acc"] * 100 for run in inputs.runs
                 for split in experiment_figures.SPLITS]
    assert dots == pytest.approx(sorted(each_seed))  # a dot a seed for train, validation and test
    assert "error bars: 95 % interval of the mean" in titles(fig)[0]


def test_per_class_whiskers_run_from_the_lowest_to_the_highest_seed(study):
    inputs = inputs_of(study, "convnet_cifar10")
    ax = experiment_figures.per_class_figure(inputs).axes[0]
    (whiskers,) = [c for c in ax.collections if c.get_gid() == "seed range"]
    per_class = inputs.tables["per_class"]
    ends = [(segment[0][0], segment[1][0]) for segment in whiskers.get_segments()]
    spread = zip(per_class["accuracy_min"] * 100, per_class["accuracy_max"] * 100)
    assert flat(ends) == pytest.approx(flat(spread))
    assert not ax.containers  # whiskers, not bars
    one = experiment_figures.per_class_figure(dataclasses.replace(inputs, runs=inputs.runs[:1])).axes[0]
    assert not [c for c in one.collections if c.get_gid() == "seed range"]


def test_reproduction_figure_has_a_dot_per_seed_their_mean_and_its_interval(study):
    inputs = replicated_inputs(study)
    rows = inputs.reproduction
    # one more row read "after epoch 1" from the two-epoch CIFAR runs: each seed's first epoch
    first_epoch = rows[rows["experiment"] == "convnet_cifar10"].assign(
        ours_measure="test accuracy after epoch 1 (history.csv)")
    inputs.reproduction = pd.concat([rows, first_epoch], ignore_index=True)
    ax = study_figures.reproduction_figure(inputs).axes[0]
    seeds, means = points(ax, "seed"), dict((y, x) for x, y in points(ax, "ours"))
    intervals = {line.get_ydata()[0]: tuple(line.get_xdata())
                 for line in ax.lines if line.get_gid() == "interval"}
    for y, row in inputs.reproduction.iterrows():
        if y < len(rows):
            expected = list(seed_column(study, row["experiment"]).values())
        else:
            expected = [pd.read_csv(study["results"] / f"convnet_cifar10/runs/seed{s}/history.csv")
                        .loc[0, "test_acc"] * 100 for s in (0, 1)]
        assert sorted(x for x, line in seeds if line == y) == pytest.approx(sorted(expected)), y
        ours = describe(expected, (0, 100))
        assert means[y] == pytest.approx(ours["mean"])
        if ours["interval"] == "t":
            assert intervals[y] == pytest.approx((ours["ci_low"], ours["ci_high"]))
        else:  # the t interval would leave 0-100 % (or two seeds agree exactly): no bar
            assert y not in intervals


def test_mlp_vs_cnn_joins_the_mlp_and_the_cnn_of_each_seed(study):
    fig = study_figures.mlp_vs_cnn_figure(replicated_inputs(study))
    for ax, suffix in zip(fig.axes, ("", "_permuted")):
        mlp, cnn = seed_column(study, f"mlp_mnist{suffix}"), seed_column(study, f"cnn_mnist{suffix}")
        pairs = sorted(tuple(line.get_ydata()) for line in ax.lines if line.get_gid() == "pair")
        assert len(pairs) == len(mlp) == 2
        assert flat(pairs) == pytest.approx(flat(sorted((mlp[seed], cnn[seed]) for seed in mlp)))
        assert "CNN \u2212 MLP" in ax.get_title() and "of 2 seeds" in ax.get_title()


def test_comparisons_and_figures_are_of_the_experiments_params_yaml_names(study, tmp_path):
    """A copy of params.yaml that names other experiments in `comparisons` and `figures` (the MLP's
    and the CNN's places swapped, E6 in VGG's): the report tables and draws those, and its captions
    name them."""
    params = config.read_params(study["folder"] / "params.yaml")
    params["comparisons"] = [{"title": "MLP: shuffled vs original pixels", "a": "mlp_mnist_permuted",
                              "b": "mlp_mnist"}]
    params["figures"] = {"mlp_vs_cnn": {"MLP": {"original": "cnn_mnist", "permuted": "cnn_mnist_permuted"},
                                        "CNN": {"original": "mlp_mnist", "permuted": "mlp_mnist_permuted"}},
                         "vgg_vs_resnet": {"VGG": "convnet_cifar10", "ResNet-18": "resnet18_cifar10"}}
    params = config.completed(params, "params.yaml")
    results = Path(shutil.copytree(study["results"], tmp_path / "results"))
    report.build_report(params, results)
    table = pd.read_csv(results / "comparisons.csv")
    claims = table[table["a"] != table["b"]]
    assert list(zip(claims["comparison"], claims["a"], claims["b"])) == [
        ("MLP: shuffled vs original pixels", "mlp_mnist_permuted", "mlp_mnist")]
    made = sorted(p.stem for p in (results / "figures").glob("*.png") if not p.stem.startswith("question_"))
    assert made == sorted(study_figures.STUDY_FIGURES)  # E6 has results: its curves are drawn
    written = (results / "report.md").read_text()
    assert ("*cnn_mnist and mlp_mnist, and on shuffled pixels cnn_mnist_permuted and mlp_mnist_permuted: "
            "test accuracy") in written
    assert "*convnet_cifar10 vs resnet18_cifar10: per-epoch" in written
    inputs = dataclasses.replace(replicated_inputs(study), figures=params["figures"])
    for ax, suffix in zip(study_figures.mlp_vs_cnn_figure(inputs).axes, ("", "_permuted")):
        first, second = seed_column(study, f"cnn_mnist{suffix}"), seed_column(study, f"mlp_mnist{suffix}")
        pairs = sorted(tuple(line.get_ydata()) for line in ax.lines if line.get_gid() == "pair")
        assert flat(pairs) == pytest.approx(flat(sorted((first[seed], second[seed]) for seed in first)))


def test_accuracy_vs_cost_has_the_interval_of_the_mean_on_each_accuracy(study):
    inputs = replicated_inputs(study)
    fig = study_figures.cost_figure(inputs)
    first_row = fig.axes[:3]  # MNIST
    mnist = inputs.summary[inputs.summary["dataset"] == "mnist"]["experiment"]
    tests = [inputs.experiments[name].summary["test_acc"] for name in mnist]
    # a bar only where the interval lies inside 0-100 % and rests on some spread
    expected = sorted((t["ci_low"] * 100, t["ci_high"] * 100) for t in tests if t["interval"] == "t")
    for ax in first_row:
        drawn = sorted(tuple(line.get_ydata()) for line in ax.lines if line.get_gid() == "interval")
        assert flat(drawn) == pytest.approx(flat(expected))


def test_vgg_vs_resnet_curves_have_a_band_over_the_seeds(study):
    convnet = replicated_inputs(study).experiments["convnet_cifar10"]  # two seeds and epochs stand in
    inputs = study_figures.StudyInputs(pd.DataFrame(), pd.DataFrame(), {"vgg_cifar10": convnet},
                                       study["params"]["figures"])
    fig = study_figures.curve_pair_figure(inputs)
    assert [len(bands(ax)) for ax in fig.axes] == [2, 2]  # train and test
    assert "mean of 2 seeds" in titles(fig)[0] and "not run yet: resnet18_cifar10" in titles(fig)[0]


def test_publish_copies_the_reports_with_every_file_they_link(study, tmp_path):
    destination = tmp_path / "published"
    (destination / "figures").mkdir(parents=True)
    (destination / "figures" / "stale.png").write_bytes(b"an earlier publication's")
    assert publish.main(study["results"], destination) == 0
    for report_name in publish.REPORTS:
        links = publish.linked_files(destination / report_name)
        assert any(link.startswith("figures/") for link in links) and any("/plots/" in link for link in links)
        for link in links:  # every link leads to the same bytes as in results/
            assert (destination / link).read_bytes() == (study["results"] / link).read_bytes(), link
    assert {p.name for p in destination.glob("*.csv")} == set(publish.TABLES)
    assert not (destination / "figures" / "stale.png").exists() and not list(destination.rglob("*.pt"))


def test_publish_refuses_a_folder_without_a_report(tmp_path, capsys):
    assert publish.main(tmp_path, tmp_path / "published") == 2
    assert capsys.readouterr().err.startswith(f"cnnlab: error: {tmp_path}: no report.md, report.zh.md")
    assert not (tmp_path / "published").exists()
