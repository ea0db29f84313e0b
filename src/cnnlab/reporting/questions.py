"""The lab's discussion questions answered from the numbers.

params.yaml's `questions` names, per question, a base experiment and its variants (each differs from
the base in some keys). For each question with results, an Answer that opens with its conclusion
in plain words and the reason, each claim a measured number (conclusions: the rules on the paired
statistics; reasons: the measured facts that hold), then the question's own numbers
(QUESTION_NUMBERS), its figure and a table of test accuracy over the seeds with each variant's paired
difference against the base (tables.paired_table). Variants are named by what they change
(changes.py); their ids stand only in the table's first column.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cnnlab.analysis import statistics
from cnnlab.reporting import conclusions, intervals
from cnnlab.reporting.changes import base_words, change_words
from cnnlab.reporting.conclusions import BETTER, WORSE, Effect
from cnnlab.reporting.intervals import caveats, difference_text
from cnnlab.reporting.page import flops, load_caveat, machine_of
from cnnlab.reporting.reasons import (
    SHIFTED,
    facts,
    has_shifted,
    mean_metric,
    shifted_effect,
    steps_per_epoch,
)
from cnnlab.reporting.tables import mean_of, paired_table, seed_runs
from cnnlab.results.records import FinishedRun
from cnnlab.text import count

REASON_SENTENCES = 3  # the evidence, then measured facts up to this many sentences (one fact at least)


@dataclass(frozen=True)
class Answer:
    """One question's answer: plain text, rendered by page.py (HTML) and markdown.py."""

    qid: str
    title: str
    conclusion: str  # one sentence: what the numbers support
    reason: str  # the evidence and the measured facts behind it
    paragraph: str  # the question's own numbers and the caveats, after the opening ('' if none)
    headers: list[str]
    rows: list[list[str]]
    experiments: tuple[FinishedRun, ...]  # the base, then its variants with results
    figure: Path | None = None  # question_figures.plot_answers draws it
    caption: str = ""

    @property
    def opening(self) -> str:
        return f"{self.conclusion} {self.reason}".strip()


@dataclass(frozen=True)
class Column:
    """A question's own number in its table: a header and the text of one experiment's value."""

    header: str
    value: Callable[[FinishedRun], str]


@dataclass(frozen=True)
class QuestionNumbers:
    """What a question shows besides test accuracy: columns and a sentence of the paragraph."""

    columns: tuple[Column, ...] = ()
    note: Callable[[FinishedRun, list[FinishedRun]], str] = lambda base, variants: ""


def question_answers(params: dict, runs: list[FinishedRun]) -> list[Answer]:
    """The answers of the questions whose base and at least one variant have results."""
    by_name = {run.name: run for run in runs}
    answers = []
    for qid, question in params.get("questions", {}).items():
        base = by_name.get(question["base"])
        variants = [by_name[name] for name in question["variants"] if name in by_name]
        if base is not None and variants:
            answers.append(answer(qid, question["title"], base, variants))
    return answers


def question_number(qid: str) -> str:
    """'q3' for q3_fixed_steps: the studies of one question show the same numbers and figure."""
    return qid.split("_")[0]


def answer(qid: str, title: str, base: FinishedRun, variants: list[FinishedRun]) -> Answer:
    numbers = QUESTION_NUMBERS.get(qid) or QUESTION_NUMBERS.get(question_number(qid), QuestionNumbers())
    differences = list(paired_table([(v.name, v, "test_acc", base, "test_acc") for v in variants])
                       .itertuples())
    effects = [Effect(change_words(v, base, " and "), d, margin(base, v))
               for v, d in zip(variants, differences)]
    headers = ["experiment", "differs from the base in", "test accuracy: mean ± 95 % interval (n)",
               "difference to the base: mean [95 % interval]", *(c.header for c in numbers.columns)]
    rows = [[base.name, "(the base)", accuracy_text(base), "", *(c.value(base) for c in numbers.columns)]]
    rows += [[v.name, change_words(v, base), accuracy_text(v), difference_text(d),
              *(c.value(v) for c in numbers.columns)] for v, d in zip(variants, differences)]
    conclusion = conclusions.conclusion(base_words(base, variants), effects)
    evidence = conclusions.evidence(effects)
    room = max(1, REASON_SENTENCES - len(evidence))
    reason = " ".join([*evidence, *measured_facts(base, variants, effects)[:room]])
    note = numbers.note(base, variants)
    # why a number has no interval: said once, after every number of the answer and its table
    caveat = caveats(" ".join([conclusion, reason, note, *(c for row in rows for c in row)]))
    return Answer(qid, title, conclusion, reason, " ".join(s for s in (note, caveat) if s), headers, rows,
                  (base, *variants))


def margin(base: FinishedRun, variant: FinishedRun, measure: str = "test_acc") -> float:
    """The test set's noise on the variant's difference to the base (conclusions.test_set_margin)."""
    return conclusions.test_set_margin(mean_metric(base, measure), mean_metric(variant, measure),
                                       base.trained["test_size"])


def measured_facts(base: FinishedRun, variants: list[FinishedRun], effects: list[Effect]) -> list[str]:
    """The measured facts of the variants, those with the largest decided effect first."""
    def weight(pair):
        effect = pair[1]
        return (effect.verdict not in (BETTER, WORSE), -abs(effect.d.mean_diff or 0))

    found = [fact for variant, effect in sorted(zip(variants, effects), key=weight)
             for fact in facts(base, variant, effect)]
    return list(dict.fromkeys(found))


def accuracy_text(run: FinishedRun, measure: str = "test_acc") -> str:
    """'98.95 ± 0.12 % (n = 5)': the mean over the seeds ± half its 95 % interval, or what stands
    instead (intervals.accuracy_text)."""
    return intervals.accuracy_text(statistics.describe([r.metrics[measure] for r in seed_runs(run)]))


# Q3: how many steps an epoch is (reasons.steps_per_epoch), and what an epoch costs, at each batch size.
def seed_seconds_per_epoch(seed_run: FinishedRun) -> float:
    """One seed's training seconds per epoch (history.csv), averaged over its epochs."""
    return float(seed_run.history["seconds"].mean())


def seconds_per_epoch(run: FinishedRun) -> float:
    """history.csv's seconds per epoch, averaged over the epochs and the seeds."""
    return sum(seed_seconds_per_epoch(r) for r in seed_runs(run)) / len(seed_runs(run))


def epoch_note(base: FinishedRun, variants: list[FinishedRun]) -> str:
    runs = sorted([base, *variants], key=lambda r: r.cfg["batch_size"])
    steps = "; ".join(f"B = {r.cfg['batch_size']}: {r.trained['train_size']:,} / {r.cfg['batch_size']} "
                      f"→ {steps_per_epoch(r):,} steps, {seconds_per_epoch(r):,.1f} s an epoch, "
                      f"{mean_of(seed_runs(r), 'images_per_sec'):,.0f} images/s" for r in runs)
    loaded = [seed for run in runs for seed in seed_runs(run) if load_caveat(machine_of(seed))]
    caveat = (f" {count(len(loaded), 'run')} of {sum(len(seed_runs(r)) for r in runs)} trained on a loaded "
              "machine (more processes than cores): compare these times with care." if loaded else "")
    return ("An epoch is one pass over the training set: 1 epoch = training images / B steps of batch "
            f"size B. {steps} (times: means over the seeds).{caveat}")


# Q4: what a 1x1 convolution costs and buys: parameters, FLOPs, accuracy on shifted test images.
def shifted_text(run: FinishedRun) -> str:
    return accuracy_text(run, SHIFTED) if has_shifted(run) else "–"


def cost_note(base: FinishedRun, variants: list[FinishedRun]) -> str:
    """Each variant's accuracy on shifted test images against the base's, paired over the seeds."""
    sentences = []
    for variant in variants:
        shifted = shifted_effect(base, variant, change_words(variant, base, " and "))
        if shifted is not None:
            reached = f"{accuracy_text(variant, SHIFTED)} against {accuracy_text(base, SHIFTED)}"
            sentences.append(f"On test images shifted by a few pixels, with {shifted.words} the model "
                             f"reaches {reached}: paired difference {difference_text(shifted.d)}; "
                             f"{conclusions.verdict_words(shifted)}.")
    return " ".join(sentences)


def equivalence_note(base: FinishedRun, variants: list[FinishedRun]) -> str:
    """Q4 (a), measured when the report is made (milliseconds): a Linear layer as a 1x1 convolution."""
    from cnnlab.analysis.equivalence import (
        conv1x1_equivalence,  # imports torch: only a report with Q4 needs it
    )

    check = conv1x1_equivalence()
    return (f"A {check['linear']} layer's weights copied into a 1x1 convolution give the same outputs at "
            f"every position of {check['feature_maps']} feature maps: the largest of the "
            f"{check['outputs']:,} absolute differences is {check['float64']:.1e} in float64 and "
            f"{check['float32']:.1e} in float32 (rounding only: the same sums in another order). "
            + cost_note(base, variants))


Q4_COLUMNS = (Column("parameters", lambda r: f"{r.trained['parameters']:,}"),
              Column("FLOPs / image", lambda r: flops(r.trained["flops_per_image"])),
              Column("test acc. on shifted images", shifted_text))

# One declaration per question of params.yaml, by its id or else its number (every q3_* study shows
# the same columns); a question not listed shows test accuracy only.
QUESTION_NUMBERS = {
    "q3": QuestionNumbers(
        (Column("steps per epoch", lambda r: f"{steps_per_epoch(r):,}"),
         Column("seconds per epoch", lambda r: f"{seconds_per_epoch(r):,.1f} s"),
         Column("images / s", lambda r: f"{mean_of(seed_runs(r), 'images_per_sec'):,.0f}")),
        epoch_note),
    "q4": QuestionNumbers(Q4_COLUMNS, cost_note),
    "q4_conv1x1": QuestionNumbers(Q4_COLUMNS, equivalence_note),
}
