"""The lab's questions answered from the numbers, in report.html, results/report.md and its Chinese
twin results/report.zh.md.

One module-scoped smoke study on synthetic MNIST, run through the `cnnlab` command line (fetch,
train, evaluate, summarize, plot, report; two seeds each), with questions declared in the test's
params.yaml: a learning-rate variant and a copy of the base's recipe (whose runs are identical to
the base's, so its difference is within the noise), a batch-size variant (Q3) and the MLP against
the CNN (Q4: parameters and FLOPs).
"""

import base64
import dataclasses
import html
import json
import math
import os
import re
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cnnlab import config
from cnnlab.analysis import statistics
from cnnlab.analysis.equivalence import conv1x1_equivalence
from cnnlab.analysis.statistics import describe
from cnnlab.reporting import intervals, markdown, question_figures, questions, report
from cnnlab.reporting.experiment_figures import FIGURES
from cnnlab.reporting.language import ENGLISH, messages
from cnnlab.reporting.questions import question_answers
from synthetic import write_mirror

REPO = Path(__file__).resolve().parents[1]
BASE = "cnn_mnist"
VARIANTS = {  # name -> what differs from cnn_mnist's recipe (each `base: cnn_mnist`)
    "cnn_mnist_fast": {"lr": 0.2}, "cnn_mnist_again": {}, "cnn_mnist_b16": {"batch_size": 16},
    "cnn_mnist_mlp": {"model": "mlp_small"}, "cnn_mnist_not_run": {"lr": 0.3},
}
QUESTIONS = {
    "q1_lr": {"title": "Does a larger learning rate help?", "base": BASE,
              "variants": ["cnn_mnist_fast", "cnn_mnist_again"]},
    "q3_epoch_vs_batch": {"title": "Epoch vs batch", "base": BASE, "variants": ["cnn_mnist_b16"]},
    "q4_conv1x1": {"title": "1x1 convolution vs fully-connected", "base": BASE,
                   "variants": ["cnn_mnist_mlp"]},
    "q_not_run": {"title": "A question without results", "base": BASE, "variants": ["cnn_mnist_not_run"]},
}
TRAINED = [BASE, *(name for name in VARIANTS if name != "cnn_mnist_not_run"), "mlp_mnist"]


def study_params(folder: Path, mirror: Path) -> dict:
    params = config.read_params(REPO / "params.yaml")
    params["data"].update(root=str(folder / "data"), mirror=str(mirror))
    params["datasets"] = ["mnist"]
    for name, changes in VARIANTS.items():
        params["experiments"][name] = {"base": BASE, "dataset": "mnist", **changes}
    params["questions"] = QUESTIONS
    return params


def run_cli(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("questions")
    mirror = write_mirror(folder / "mirror", datasets=("mnist",), n_train=800, n_test=300)
    params_path = folder / "params.yaml"
    params_path.write_text(yaml.safe_dump(study_params(folder, mirror), sort_keys=False))
    results = folder / "results"
    calls = [["--params", str(params_path), "fetch", "mnist", "--no-verify"]]
    calls += [["--params", str(params_path), step, name, "--set", "scale=smoke", "--out", str(results / name)]
              for step in ("train", "evaluate", "summarize", "plot") for name in TRAINED]
    calls.append(["--params", str(params_path), "report", "--results", str(results)])
    # one Python runs every call (torch imported once); each is the real entry point
    script = ("import sys, json\nfrom cnnlab.cli import main\n"
              "for argv in json.loads(sys.argv[1]):\n"
              "    code = main(argv)\n"
              "    if code: sys.exit(f'cnnlab {argv} exited {code}')\n")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(calls)], cwd=REPO, capture_output=True,
                          text=True, timeout=400, env=dict(os.environ, CNNLAB_DATA_MIRROR=str(mirror)))
    assert done.returncode == 0, done.stderr[-3000:]
    return {"folder": folder, "params_path": params_path, "params": config.load_params(params_path),
            "results": results, "markdown": (results / "report.md").read_text(),
            "markdown_zh": (results / "report.zh.md").read_text(),
            "html": (results / "report.html").read_text()}


def section(markdown: str, title: str) -> str:
    """The text of report.md's answer headed `title`, up to the next heading."""
    return markdown.split(f"### {title}\n")[1].split("\n#")[0]


def paragraph(markdown: str, title: str) -> str:
    """The answer's opening: its conclusion (in bold) and the reason."""
    return section(markdown, title).strip().split("\n\n")[0]


def answer_text(markdown: str, title: str) -> str:
    """The answer's text before its figure: the opening and the question's own numbers."""
    return section(markdown, title).split("\n\n![")[0]


def accuracy(name: str, results: Path) -> tuple[str, pd.Series]:
    """'X ± Y % (n = 2)' from the experiment's seeds.csv, and its test accuracy per seed."""
    seeds = pd.read_csv(results / name / "seeds.csv").set_index("seed")["test_acc"]
    d = describe(seeds)
    if d["ci_low"] < 0 or d["ci_high"] > 1:  # smoke runs of 2 seeds: often too far apart for one
        return (f"{d['mean'] * 100:.2f} % (n = 2; the seeds range {d['min'] * 100:.2f}-"
                f"{d['max'] * 100:.2f} %)"), seeds
    if d["sd"] == 0:  # two seeds that agree exactly: no interval
        return f"{d['mean'] * 100:.2f} % (n = 2; the seeds agree exactly, no interval)", seeds
    return f"{d['mean'] * 100:.2f} ± {(d['ci_high'] - d['ci_low']) / 2 * 100:.2f} % (n = 2)", seeds


def test_every_figure_link_of_report_md_resolves(study):
    links = re.findall(r"!?\[[^\]]*\]\(([^)]+)\)", study["markdown"])
    anchors = {link for link in links if link.startswith("#")}  # within the page: a heading's anchor
    headings = {"#" + h.lower().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", study["markdown"], re.M)}
    assert anchors == {"#experiments"} and anchors <= headings
    links = [link for link in links if link not in anchors]
    pngs = {p.relative_to(study["results"]).as_posix() for p in study["results"].rglob("*.png")}
    assert pngs and set(links) == pngs  # every figure of the results folder, linked once at least
    for link in links:
        assert not link.startswith(("/", "file:")), link
        assert (study["results"] / link).is_file(), link
    assert "figures/" in " ".join(links) and f"{BASE}/plots/" in " ".join(links)
    assert "## Reproduction" in study["markdown"] and "| mlp_mnist | smoke, 1 |" in study["markdown"]


def test_the_answer_opens_with_its_conclusion_and_the_table_holds_the_numbers(study):
    text = paragraph(study["markdown"], QUESTIONS["q1_lr"]["title"])
    base_text, base = accuracy(BASE, study["results"])
    fast_text, fast = accuracy("cnn_mnist_fast", study["results"])
    difference = describe(fast - base)
    spread = (f"[{difference['ci_low'] * 100:.2f}, {difference['ci_high'] * 100:.2f}] (2 common seeds)"
              if -1 <= difference["ci_low"] and difference["ci_high"] <= 1  # else the seeds' range
              else f"(2 common seeds; the seeds range {difference['min'] * 100:+.2f} pp to "
                   f"{difference['max'] * 100:+.2f} pp)")
    assert text.startswith("**") and text.count("**") == 2  # the conclusion, one sentence in bold
    conclusion = text[2:text.index("**", 2)]
    assert conclusion.endswith(".") and conclusion.count(". ") == 0
    assert "learning rate 0.2" in conclusion and "the same recipe" in conclusion
    table = section(study["markdown"], QUESTIONS["q1_lr"]["title"])
    mean = f"{difference['mean'] * 100:+.2f} pp"
    assert f"| cnn_mnist_fast | learning rate 0.2 | {fast_text} | {mean} {spread} |" in table
    assert f"| {BASE} | (the base) | {base_text} |" in table


def test_experiment_ids_stand_only_in_the_tables_first_column(study):
    for qid in ("q1_lr", "q3_epoch_vs_batch", "q4_conv1x1"):
        text = answer_text(study["markdown"], QUESTIONS[qid]["title"])
        names = [QUESTIONS[qid]["base"], *QUESTIONS[qid]["variants"]]
        assert not any(name in text for name in names), (qid, text)
        rows = [line.split(" | ") for line in section(study["markdown"], QUESTIONS[qid]["title"]).splitlines()
                if line.startswith("| cnn_mnist")]
        assert [row[0].lstrip("| ") for row in rows] == names and all(
            name not in " | ".join(row[1:]) for row in rows for name in names)


def test_two_seeds_that_agree_exactly_are_no_evidence(study):
    text = answer_text(study["markdown"], QUESTIONS["q1_lr"]["title"])
    base_text, _ = accuracy(BASE, study["results"])
    # the same recipe at the same seeds: the same runs, a difference of exactly 0 at both seeds
    assert "the same recipe cannot be judged from two seeds that agree exactly" in paragraph(
        study["markdown"], QUESTIONS["q1_lr"]["title"])
    assert (f"| cnn_mnist_again | the same recipe | {base_text} | +0.00 pp (2 common seeds that agree "
            "exactly, no interval) |") in section(study["markdown"], QUESTIONS["q1_lr"]["title"])
    assert "[0.00, 0.00]" not in text
    assert text.count(ENGLISH("interval.caveat_agree")) == 1 and text.endswith(".")


def test_one_seed_gives_no_interval(study):
    runs = {r.name: r for r in report.load_runs(study["params"], study["results"])}
    one_seed = [dataclasses.replace(run, runs=run.runs[:1]) for run in runs.values()]
    answer = next(a for a in question_answers(study["params"], one_seed, ENGLISH) if a.qid == "q1_lr")
    assert answer.conclusion == ("No conclusion yet: learning rate 0.2 cannot be judged from one common "
                                 "seed; the same recipe cannot be judged from one common seed.")
    assert answer.rows[1][2].endswith("(n = 1, no interval)")
    assert answer.rows[1][3].endswith("(1 common seed)")
    assert "±" not in answer.opening + str(answer.rows) and "within the noise" not in answer.opening


def with_seed_values(run, test_accs=None, load=None):
    """`run` with its seeds' test accuracy or the load their training started under replaced."""
    seeds = []
    for seed, acc in zip(run.runs, test_accs or [None] * len(run.runs)):
        metrics = {**seed.metrics, "test_acc": acc} if acc is not None else seed.metrics
        trained = seed.trained if load is None else {
            **seed.trained, "machine": {**seed.trained["machine"], "load_average_start": [load, load, load],
                                        "load_average_end": [load, load, load], "cores": 2}}
        seeds.append(dataclasses.replace(seed, metrics=metrics, trained=trained))
    return dataclasses.replace(run, runs=seeds)


def test_an_accuracy_interval_never_leaves_0_to_100_percent(study):
    runs = {r.name: r for r in report.load_runs(study["params"], study["results"])}
    diverged = with_seed_values(runs["cnn_mnist_fast"], test_accs=[0.098, 0.98])  # one seed diverged
    text = questions.accuracy_text(diverged, ENGLISH)
    assert text == "53.90 % (n = 2; the seeds range 9.80-98.00 %)"


def q1_answer(study, base_accs, fast_accs, words=ENGLISH):
    """Q1's answer with the base's and cnn_mnist_fast's test accuracies per seed replaced."""
    runs = {r.name: r for r in report.load_runs(study["params"], study["results"])}
    runs[BASE] = with_seed_values(runs[BASE], test_accs=base_accs)
    runs["cnn_mnist_fast"] = with_seed_values(runs["cnn_mnist_fast"], test_accs=fast_accs)
    return next(a for a in question_answers(study["params"], list(runs.values()), words) if a.qid == "q1_lr")


def test_a_difference_that_would_leave_100_pp_gives_the_range_and_says_why_once(study):
    answer = q1_answer(study, [0.97, 0.10], [0.098, 0.98])  # differences -87.2 and +88.0 pp
    assert answer.rows[1][3] == "+0.40 pp (2 common seeds; the seeds range -87.20 pp to +88.00 pp)"
    # the seeds disagree, each far beyond the test set's noise: said, and no advice given
    assert answer.conclusion.startswith("No conclusion: with learning rate 0.2 the seeds disagree;")
    assert "run from -87.20 pp to +88.00 pp" in answer.reason
    # base and variant both diverged: the range stands at several numbers, the reason is given once
    everything = " ".join([answer.opening, answer.paragraph, *(c for row in answer.rows for c in row)])
    assert everything.count("the seeds range") >= 4
    assert everything.count(ENGLISH("interval.caveat_seeds_range")) == 1
    for row in answer.rows:  # the table: no interval beyond 0-100 % or ±100 pp
        assert not re.search(r"\[-?\d{3,}\.|\d{3,}\.\d\d\]", " ".join(row)), row


def test_two_seeds_with_the_same_gain_give_no_verdict(study):
    base = [0.9, 0.8]
    answer = q1_answer(study, base, [b + 0.0586 for b in base])  # +5.86 pp at both seeds, up to rounding
    assert answer.rows[1][3] == "+5.86 pp (2 common seeds that agree exactly, no interval)"
    assert answer.conclusion.startswith(
        "No conclusion yet: learning rate 0.2 cannot be judged from two seeds that agree exactly;")
    assert "rises" not in answer.opening and "[5.86, 5.86]" not in answer.opening + str(answer.rows)


def test_a_gain_beyond_both_noises_is_advised_with_its_reason(study):
    answer = q1_answer(study, [0.50, 0.60], [0.80, 0.905])  # +30.0 and +30.5 pp
    assert answer.conclusion.startswith("Prefer learning rate 0.2 to learning rate 0.01: with learning rate "
                                        "0.2, test accuracy rises by 30.25 pp;")
    assert answer.reason.startswith("Paired over the seeds, +30.25 pp [")
    assert "(2 common seeds) with learning rate 0.2" in answer.reason  # the answer has two variants
    assert "no 95 % interval contains 0, and no mean lies within twice the test set's binomial SE (" \
        in answer.reason


def test_q3_times_of_a_loaded_machine_carry_a_caveat(study):
    runs = {r.name: r for r in report.load_runs(study["params"], study["results"])}
    quiet = questions.epoch_note(with_seed_values(runs[BASE], load=0.5), [], ENGLISH)
    loaded = questions.epoch_note(with_seed_values(runs[BASE], load=5.0), [], ENGLISH)
    assert "loaded" not in quiet
    assert loaded.endswith(" 2 runs of 2 trained on a loaded machine (more processes than cores): compare "
                           "these times with care.")


def test_q3_defines_the_epoch_with_the_numbers(study):
    text = answer_text(study["markdown"], QUESTIONS["q3_epoch_vs_batch"]["title"])
    for name, batch in ((BASE, 64), ("cnn_mnist_b16", 16)):
        trained = json.loads((study["results"] / name / "runs/seed0/train.json").read_text())
        size = trained["train_size"]
        assert f"B = {batch}: {size:,} / {batch} → {math.ceil(size / batch):,} steps" in text
        seconds = [pd.read_csv(study["results"] / name / f"runs/seed{s}/history.csv")["seconds"].mean()
                   for s in (0, 1)]
        assert f"→ {math.ceil(size / batch):,} steps, {sum(seconds) / 2:,.1f} s an epoch" in text
    assert text.index("B = 16") < text.index("B = 64")
    size = json.loads((study["results"] / BASE / "runs/seed0/train.json").read_text())["train_size"]
    steps = math.ceil(size / 16)  # the reason carries the steps too
    assert f"With batch 16 an epoch is {size:,} training images / 16 = {steps:,} steps against " in text


def test_q4_gives_parameters_and_flops(study):
    text = answer_text(study["markdown"], QUESTIONS["q4_conv1x1"]["title"])
    table = section(study["markdown"], QUESTIONS["q4_conv1x1"]["title"])
    parameters = [json.loads((study["results"] / name / "runs/seed0/train.json").read_text())["parameters"]
                  for name in (BASE, "cnn_mnist_mlp")]
    assert f"With model mlp_small: {parameters[1]:,} parameters and " in text
    assert f"FLOPs per image, against {parameters[0]:,} and " in text
    assert all(f"| {p:,} |" in table for p in parameters)
    assert "shifted" in text  # every run's metrics.json has shifted_test_acc
    check = conv1x1_equivalence()  # Q4 (a), the same numbers every time
    assert (f"the largest of the 3,920 absolute differences is {check['float64']:.1e} in float64 and "
            f"{check['float32']:.1e} in float32") in text


def test_report_html_opens_with_the_answers(study):
    page = study["html"]
    assert page.index('<h2 id="answers">') < page.index('<h2 id="summary">')
    for qid in ("q1_lr", "q3_epoch_vs_batch", "q4_conv1x1"):
        title = QUESTIONS[qid]["title"]
        conclusion, reason = paragraph(study["markdown"], title)[2:].split("** ", 1)
        assert (f'<h3 id="{qid}">{html.escape(title)}</h3><p><strong>{html.escape(conclusion)}</strong> '
                f"{html.escape(reason)}</p>") in page
        assert f'<table id="{qid}-table">' in page
    # a question whose variants have no results gets no answer, in neither file
    assert QUESTIONS["q_not_run"]["title"] not in page + study["markdown"]


def numbers(text: str) -> Counter:
    """Each number of a text ('98.95', '3,920', the 16 of cnn_mnist_b16) and how often it stands there."""
    return Counter(re.findall(r"\d+(?:[.,]\d+)*", text))


def test_the_chinese_report_shows_the_same_numbers_as_the_english_one(study):
    """report.zh.md is report.md in other words: every number of either stands in the other, as often
    (so the same sentences are written in both: one whose condition fails is left out of both)."""
    english, chinese = numbers(study["markdown"]), numbers(study["markdown_zh"])
    assert (english - chinese, chinese - english) == (Counter(), Counter())
    # in Chinese: its headings, the words around the numbers, the figures' captions, the left-out note
    text = study["markdown_zh"]
    assert f"## {messages('zh')('report.questions')}\n" in text and "## Reproduction" not in text
    assert "[实验](#实验)" in text and "\n## 实验\n" in text
    assert all(kind.caption not in text for kind in FIGURES.values())
    q3 = section(text, QUESTIONS["q3_epoch_vs_batch"]["title"])
    assert "暂无结论:“batch 大小 16”无法判断,因为各种子的差值从" in q3
    assert "未纳入本研究:" in text and "Left out" not in text
    # the figures are the English report's own files
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", study["markdown"])
    assert links and re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text) == links


@pytest.mark.parametrize("base_accs, fast_accs, lead", [
    ([0.97, 0.10], [0.098, 0.98], "无结论:"),  # the seeds disagree
    ([0.9, 0.8], [0.9586, 0.8586], "暂无结论:"),  # two seeds that agree exactly
    ([0.50, 0.60], [0.80, 0.905], "推荐“学习率 0.2”,而不是“学习率 0.01”:"),  # a gain beyond both noises
])
def test_each_language_makes_the_same_decisions(study, base_accs, fast_accs, lead):
    english, chinese = (q1_answer(study, base_accs, fast_accs, messages(language))
                        for language in ("en", "zh"))
    assert chinese.conclusion.startswith(lead)
    for part in ("conclusion", "reason", "paragraph", "rows"):
        assert numbers(str(getattr(chinese, part))) == numbers(str(getattr(english, part))), part


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_each_answer_shows_its_figure_in_both_files(study):
    figures = study["results"] / "figures"
    for qid in ("q1_lr", "q3_epoch_vs_batch", "q4_conv1x1"):
        png = figures / f"question_{qid}.png"
        assert png_size(png)[0] > 1000
        assert f"![question_{qid}](figures/question_{qid}.png)" in section(study["markdown"],
                                                                         QUESTIONS[qid]["title"])
        answer_html = study["html"].split(f'<h3 id="{qid}">')[1].split(f'<table id="{qid}-table">')[0]
        embedded = re.search(r'<img src="data:image/png;base64,([^"]+)"', answer_html).group(1)
        assert base64.b64decode(embedded) == png.read_bytes()
    # Q1's figure adds the per-class panel below the curves; a question without results has none
    heights = {qid: png_size(figures / f"question_{qid}.png")[1] for qid in ("q1_lr", "q4_conv1x1")}
    assert heights["q1_lr"] > heights["q4_conv1x1"] * 1.4
    assert not (figures / "question_q_not_run.png").exists()


def test_a_question_figure_whose_answer_is_gone_is_removed(study, tmp_path):
    stale = study["results"] / "figures" / "question_q_removed.png"
    stale.write_bytes((study["results"] / "figures" / "question_q1_lr.png").read_bytes())
    done = run_cli(["--params", str(study["params_path"]), "report", "--results", str(study["results"])])
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and (study["results"] / "figures" / "question_q1_lr.png").is_file()


BAD_QUESTIONS = {  # what a user may write -> what the one-line error says
    "unknown base": ({"title": "t", "base": "nope", "variants": ["cnn_mnist"]},
                     "questions.qx.base: 'nope' is not an experiment"),
    "unknown variant": ({"title": "t", "base": BASE, "variants": ["cnn_mnist_fats"]},
                        "questions.qx.variants: 'cnn_mnist_fats' is not an experiment"),
    "base among its variants": ({"title": "t", "base": BASE, "variants": [BASE]},
                                "questions.qx.variants: 'cnn_mnist' is not an experiment with `base: "
                                "cnn_mnist`"),
    "no title": ({"base": BASE, "variants": ["cnn_mnist_fast"]}, "questions.qx: the key 'title' is missing"),
    "unknown key": ({"title": "t", "base": BASE, "variants": ["mlp_mnist"], "varaints": []},
                    "questions.qx: unknown key 'varaints'"),
    "no variants": ({"title": "t", "base": BASE, "variants": []}, "questions.qx.variants:"),
}


@pytest.mark.parametrize("case", BAD_QUESTIONS)
def test_a_bad_question_is_refused_and_changes_nothing(study, case, tmp_path):
    question, message = BAD_QUESTIONS[case]
    params = yaml.safe_load(study["params_path"].read_text())
    params["questions"] = {"qx": question}
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params, sort_keys=False))
    before = {p: p.read_bytes() for p in study["results"].rglob("*") if p.is_file()}
    done = run_cli(["--params", str(bad), "report", "--results", str(study["results"])])
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnlab: error: ") and message in lines[0], done.stderr
    assert {p: p.read_bytes() for p in study["results"].rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("a, b, said", [
    ({1: 0.9, 2: 0.1}, {1: 0.1, 2: 0.8}, ("none inside ±100 pp: the seeds range -70.00 pp to +80.00 pp",
                                          "no conclusion: the seeds lie too far apart for an interval")),
    ({1: 0.5, 2: 0.75}, {1: 0.25, 2: 0.5}, ("none: 2 seeds agree exactly", "no conclusion from two seeds: "
                                                                           "run a third")),
    ({1: 0.5, 2: 0.75, 3: 1.0}, {1: 0.25, 2: 0.5, 3: 0.75}, ("[25.00, 25.00] pp",
                                                             "A is better by +25.00 pp (the whole interval "
                                                             "is above 0)")),
])
def test_the_comparisons_table_says_better_only_from_an_interval(a, b, said):
    row = types.SimpleNamespace(**statistics.paired(a, b), a="A", b="B")
    assert (intervals.difference_interval(row, ENGLISH), intervals.comparison_sentence(row)) == said


def test_the_header_counts_the_experiments_and_links_them_instead_of_listing_them(study):
    page, markdown = study["html"], study["markdown"]
    header = page.split("</h1>")[1].split("<nav>")[0]
    evaluated, chosen = len(TRAINED), config.study_experiments(study["params"])
    counts = (f"{evaluated} experiments evaluated; {len(chosen) - evaluated} not run yet; "
              f"{len(study['params']['experiments']) - len(chosen)} left out of the study")
    assert counts in header
    assert '<a href="#summary-table">' in header and '<a href="#missing">' in header
    assert not any(name in header for name in TRAINED)  # the names are in the Summary, not here
    missing = page.split('<p id="missing" class="small">')[1].split("</p>")[0]
    assert "cnn_mnist_not_run" in missing
    assert "Left out of the study: " in missing
    assert "left out by <code>datasets</code> in params.yaml" in missing
    assert markdown.split("\n\n")[1].startswith(counts + ":")
    assert "cnn_mnist_not_run" in markdown.split("## Experiments")[1]


def test_q1_per_class_panel_has_a_bar_per_class_and_experiment_and_no_line_across_classes(study):
    runs = report.load_runs(study["params"], study["results"])
    answer = next(a for a in question_answers(study["params"], runs, ENGLISH) if a.qid == "q1_lr")
    per_class = question_figures.curves_figure(answer).axes[2]
    classes = pd.read_csv(study["results"] / BASE / "per_class.csv")
    assert sum(len(bars) for bars in per_class.containers) == len(classes) * len(answer.experiments)
    assert not per_class.lines  # nothing joins one class to the next


def with_recipe(run, name: str, **changes):
    """`run` (an experiment and its seeds) renamed, as if trained with `changes` to its recipe."""
    def changed(r):
        return dataclasses.replace(r, name=name, trained={**r.trained, "config": {**r.cfg, **changes}})
    return dataclasses.replace(changed(run), runs=[changed(seed) for seed in run.runs])


def test_a_question_of_ones_own_gets_the_same_kind_of_answer(study, tmp_path):
    """Adam vs plain SGD, as a student adds it to `questions:`: the generic path answers it."""
    runs = {r.name: r for r in report.load_runs(study["params"], study["results"])}
    base = with_seed_values(runs[BASE], test_accs=[0.50, 0.60])
    adam = with_recipe(with_seed_values(runs[BASE], test_accs=[0.80, 0.905]), "cnn_mnist_adam",
                       optimizer="adam", lr=0.001)
    own = {"adam_vs_sgd": {"title": "Adam or plain SGD?", "base": BASE, "variants": ["cnn_mnist_adam"]}}
    (answer,) = question_answers({**study["params"], "questions": own}, [base, adam], ENGLISH)
    assert answer.conclusion == ("Prefer Adam and learning rate 0.001 to plain SGD and learning rate 0.01: "
                                 "with Adam and learning rate 0.001, test accuracy rises by 30.25 pp.")
    assert answer.reason.startswith("Paired over the seeds, +30.25 pp [")
    assert answer.rows[1][:2] == ["cnn_mnist_adam", "Adam, learning rate 0.001"]
    figures = question_figures.plot_answers([answer], tmp_path / "figures")
    assert figures == {"adam_vs_sgd": tmp_path / "figures" / "question_adam_vs_sgd.png"}
    (drawn,) = question_figures.with_figures([answer], figures, ENGLISH)
    assert drawn.figure.is_file() and drawn.caption == question_figures.CURVES_CAPTION
    text = markdown.answer_markdown(drawn, tmp_path, ENGLISH)
    # conclusion and reason, the caveats (a seeds' range stands in the table), the figure, the table
    assert text.startswith(f"### Adam or plain SGD?\n\n**{answer.conclusion}** {answer.reason}\n\n"
                           f"{ENGLISH('interval.caveat_seeds_range')}\n\n"
                           "![question_adam_vs_sgd](figures/question_adam_vs_sgd.png)")
    assert text.index("| cnn_mnist_adam | Adam, learning rate 0.001 |") > text.index("![question_adam")
