"""The lab's discussion questions answered from the numbers.

params.yaml's `questions` names, per question, a base experiment and its variants (each differs from
the base in some keys). For each question with results, an Answer that opens with its conclusion
in plain words and the reason, each claim a measured number (conclusions: the rules on the paired
statistics; reasons: the measured facts that hold), then the question's own numbers
(QUESTION_NUMBERS), its figure and a table of test accuracy over the seeds with each variant's paired
difference against the base (tables.paired_table). Variants are named by what they change
(changes.py); their ids stand only in the table's first column. An answer is written in one
language (language.Messages): the same decisions in every language, only the words looked up.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cnnlab.analysis import statistics
from cnnlab.reporting import conclusions, intervals
from cnnlab.reporting.changes import base_words, change_words
from cnnlab.reporting.conclusions import BETTER, WORSE, Effect
from cnnlab.reporting.intervals import caveats, difference_text
from cnnlab.reporting.language import Messages
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
    """A question's own number in its table: its header (an entry of the catalogs' `columns`) and the
    text of one experiment's value."""

    header: str
    value: Callable[[FinishedRun, Messages], str]


@dataclass(frozen=True)
class QuestionNumbers:
    """What a question shows besides test accuracy: columns and a sentence of the paragraph."""

    columns: tuple[Column, ...] = ()
    note: Callable[[FinishedRun, list[FinishedRun], Messages], str] = lambda base, variants, words: ""


def question_answers(params: dict, runs: list[FinishedRun], words: Messages) -> list[Answer]:
    """The answers of the questions whose base and at least one variant have results."""
    by_name = {run.name: run for run in runs}
    answers = []
    for qid, question in params.get("questions", {}).items():
        base = by_name.get(question["base"])
        variants = [by_name[name] for name in question["variants"] if name in by_name]
        if base is not None and variants:
            answers.append(answer(qid, question_title(question, words), base, variants, words))
    return answers


def question_title(question: dict, words: Messages) -> str:
    """The question in the report's language: `title_zh` in Chinese, `title` (English) in English and
    wherever params.yaml gives no translation."""
    return question.get(f"title_{words.language}", question["title"])


def question_number(qid: str) -> str:
    """'q3' for q3_fixed_steps: the studies of one question show the same numbers and figure."""
    return qid.split("_")[0]


def answer(qid: str, title: str, base: FinishedRun, variants: list[FinishedRun], words: Messages) -> Answer:
    numbers = QUESTION_NUMBERS.get(qid) or QUESTION_NUMBERS.get(question_number(qid), QuestionNumbers())
    differences = list(paired_table([(v.name, v, "test_acc", base, "test_acc") for v in variants])
                       .itertuples())
    effects = [Effect(change_words(v, base, words, "and"), d, margin(base, v))
               for v, d in zip(variants, differences)]
    headers = [words(f"columns.{column}") for column in ("experiment", "differs", "accuracy", "difference")]
    headers += [words(f"columns.{c.header}") for c in numbers.columns]
    rows = [[base.name, words("answer.the_base"), accuracy_text(base, words), "",
             *(c.value(base, words) for c in numbers.columns)]]
    rows += [[v.name, change_words(v, base, words), accuracy_text(v, words), difference_text(d, words),
              *(c.value(v, words) for c in numbers.columns)] for v, d in zip(variants, differences)]
    conclusion = conclusions.conclusion(base_words(base, variants, words), effects, words)
    evidence = conclusions.evidence(effects, words)
    room = max(1, REASON_SENTENCES - len(evidence))
    reason = words("join.sentences").join([*evidence, *measured_facts(base, variants, effects, words)[:room]])
    note = numbers.note(base, variants, words)
    # why a number has no interval: said once, after every number of the answer and its table
    caveat = caveats(" ".join([conclusion, reason, note, *(c for row in rows for c in row)]), words)
    paragraph = words("join.sentences").join(s for s in (note, caveat) if s)
    return Answer(qid, title, conclusion, reason, paragraph, headers, rows, (base, *variants))


def margin(base: FinishedRun, variant: FinishedRun, measure: str = "test_acc") -> float:
    """The test set's noise on the variant's difference to the base (conclusions.test_set_margin)."""
    return conclusions.test_set_margin(mean_metric(base, measure), mean_metric(variant, measure),
                                       base.trained["test_size"])


def measured_facts(base: FinishedRun, variants: list[FinishedRun], effects: list[Effect],
                   words: Messages) -> list[str]:
    """The measured facts of the variants, those with the largest decided effect first."""
    def weight(pair):
        effect = pair[1]
        return (effect.verdict not in (BETTER, WORSE), -abs(effect.d.mean_diff or 0))

    found = [fact for variant, effect in sorted(zip(variants, effects), key=weight)
             for fact in facts(base, variant, effect, words)]
    return list(dict.fromkeys(found))


def accuracy_text(run: FinishedRun, words: Messages, measure: str = "test_acc") -> str:
    """'98.95 ± 0.12 % (n = 5)': the mean over the seeds ± half its 95 % interval, or what stands
    instead (intervals.accuracy_text)."""
    return intervals.accuracy_text(statistics.describe([r.metrics[measure] for r in seed_runs(run)]), words)


# Q3: how many steps an epoch is (reasons.steps_per_epoch), and what an epoch costs, at each batch size.
def seed_seconds_per_epoch(seed_run: FinishedRun) -> float:
    """One seed's training seconds per epoch (history.csv), averaged over its epochs."""
    return float(seed_run.history["seconds"].mean())


def seconds_per_epoch(run: FinishedRun) -> float:
    """history.csv's seconds per epoch, averaged over the epochs and the seeds."""
    return sum(seed_seconds_per_epoch(r) for r in seed_runs(run)) / len(seed_runs(run))


def epoch_note(base: FinishedRun, variants: list[FinishedRun], words: Messages) -> str:
    runs = sorted([base, *variants], key=lambda r: r.cfg["batch_size"])
    steps = words("join.list").join(
        words("answer.epoch_steps", batch=r.cfg["batch_size"], images=f"{r.trained['train_size']:,}",
              steps=f"{steps_per_epoch(r):,}", seconds=f"{seconds_per_epoch(r):,.1f}",
              rate=f"{mean_of(seed_runs(r), 'images_per_sec'):,.0f}") for r in runs)
    loaded = [seed for run in runs for seed in seed_runs(run) if load_caveat(machine_of(seed))]
    caveat = words("answer.loaded", runs=words.count("runs", len(loaded)),
                   total=sum(len(seed_runs(r)) for r in runs)) if loaded else ""
    return words("join.sentences").join(s for s in (words("answer.epoch", steps=steps), caveat) if s)


# Q4: what a 1x1 convolution costs and buys: parameters, FLOPs, accuracy on shifted test images.
def shifted_text(run: FinishedRun, words: Messages) -> str:
    return accuracy_text(run, words, SHIFTED) if has_shifted(run) else "–"


def cost_note(base: FinishedRun, variants: list[FinishedRun], words: Messages) -> str:
    """Each variant's accuracy on shifted test images against the base's, paired over the seeds."""
    sentences = []
    for variant in variants:
        shifted = shifted_effect(base, variant, change_words(variant, base, words, "and"))
        if shifted is not None:
            sentences.append(words("answer.shifted", words=shifted.words,
                                   variant=accuracy_text(variant, words, SHIFTED),
                                   base=accuracy_text(base, words, SHIFTED),
                                   difference=difference_text(shifted.d, words),
                                   verdict=conclusions.verdict_words(shifted, words)))
    return words("join.sentences").join(sentences)


def equivalence_note(base: FinishedRun, variants: list[FinishedRun], words: Messages) -> str:
    """Q4 (a), measured when the report is made (milliseconds): a Linear layer as a 1x1 convolution."""
    from cnnlab.analysis.equivalence import (
        conv1x1_equivalence,  # imports torch: only a report with Q4 needs it
    )

    check = conv1x1_equivalence()
    equivalence = words("answer.equivalence", linear=check["linear"], maps=check["feature_maps"],
                        outputs=f"{check['outputs']:,}", float64=f"{check['float64']:.1e}",
                        float32=f"{check['float32']:.1e}")
    return words("join.sentences").join(s for s in (equivalence, cost_note(base, variants, words)) if s)


Q4_COLUMNS = (Column("parameters", lambda r, words: f"{r.trained['parameters']:,}"),
              Column("flops", lambda r, words: flops(r.trained["flops_per_image"])),
              Column("shifted", shifted_text))

# One declaration per question of params.yaml, by its id or else its number (every q3_* study shows
# the same columns); a question not listed shows test accuracy only.
QUESTION_NUMBERS = {
    "q3": QuestionNumbers(
        (Column("steps_per_epoch", lambda r, words: f"{steps_per_epoch(r):,}"),
         Column("seconds_per_epoch", lambda r, words: f"{seconds_per_epoch(r):,.1f} s"),
         Column("images_per_second", lambda r, words: f"{mean_of(seed_runs(r), 'images_per_sec'):,.0f}")),
        epoch_note),
    "q4": QuestionNumbers(Q4_COLUMNS, cost_note),
    "q4_conv1x1": QuestionNumbers(Q4_COLUMNS, equivalence_note),
}
