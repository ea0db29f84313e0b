"""Why a variant differs from its base, from what its runs measured: each fact is a sentence written
only when its condition holds, so a question of one's own gets the ones that apply to it.

- per class: the change is uneven across the classes (UNEVEN_CLASSES apart);
- steps: the batch size or the epochs changed, so the number of optimizer steps did;
- cost: parameters or FLOPs per image differ;
- spread: the variant's seeds lie far wider apart than the base's;
- shifted images: the accuracy on shifted test images says otherwise than the plain one.

The conditions are decided here; each fact's words are the catalog's `facts` (language.Messages).
"""

import math

from cnnlab.analysis.statistics import describe
from cnnlab.reporting import conclusions
from cnnlab.reporting.conclusions import BETTER, WORSE, Effect, size
from cnnlab.reporting.intervals import pct
from cnnlab.reporting.language import Messages
from cnnlab.reporting.page import flops
from cnnlab.reporting.tables import paired_table, seed_runs
from cnnlab.results.records import FinishedRun, read_evaluation_tables

UNEVEN_CLASSES = 0.10  # the classes' changes 10 pp or more apart: say which classes move
WIDER_SEEDS = 3  # the variant's seeds' range this many times the base's (and beyond the test set's noise)
SHIFTED = "shifted_test_acc"  # metrics.json: accuracy on test images shifted by a few pixels


def steps_per_epoch(run: FinishedRun) -> int:
    return math.ceil(run.trained["train_size"] / run.cfg["batch_size"])


def mean_metric(run: FinishedRun, measure: str = "test_acc") -> float:
    """metrics.json's `measure`, the mean over the seeds."""
    return describe([r.metrics[measure] for r in seed_runs(run)])["mean"]


def per_class(run: FinishedRun):
    """The experiment's per_class.csv (its seeds' counts added up), or None where it has none."""
    if not (run.folder / "per_class.csv").is_file():
        return None
    fix = f"run `cnnlab summarize {run.name}` again"
    return read_evaluation_tables(run.folder, fix, with_predictions=False)["per_class"].set_index("class")


def class_moves(name: str, before: float, after: float, words: Messages) -> str:
    moves = "stays" if after == before else "rises" if after > before else "falls"
    return words(f"facts.class_{moves}", name=name, before=pct(before), after=pct(after))


def per_class_fact(base: FinishedRun, variant: FinishedRun, effect: Effect, words: Messages) -> str:
    tables = per_class(base), per_class(variant)
    if effect.verdict not in (BETTER, WORSE) or tables[0] is None or tables[1] is None:
        return ""  # only an effect the seeds establish is worth explaining class by class
    before, after = tables[0]["accuracy"], tables[1]["accuracy"]
    change = (after - before).dropna()
    if change.empty or change.max() - change.min() < UNEVEN_CLASSES:
        return ""
    low, high = change.idxmin(), change.idxmax()
    return words("facts.per_class", words=effect.words, low=class_moves(low, before[low], after[low], words),
                 high=class_moves(high, before[high], after[high], words))


def steps_fact(base: FinishedRun, variant: FinishedRun, effect: Effect, words: Messages) -> str:
    if all(variant.cfg[k] == base.cfg[k] for k in ("batch_size", "epochs")):
        return ""
    steps, base_steps = steps_per_epoch(variant), steps_per_epoch(base)
    return words("facts.steps", words=effect.words, images=f"{variant.trained['train_size']:,}",
                 batch=variant.cfg["batch_size"], steps=f"{steps:,}", base_steps=f"{base_steps:,}",
                 total=f"{steps * variant.trained['epochs']:,}",
                 base_total=f"{base_steps * base.trained['epochs']:,}")


def cost_fact(base: FinishedRun, variant: FinishedRun, effect: Effect, words: Messages) -> str:
    keys = ("parameters", "flops_per_image")
    if all(variant.trained[k] == base.trained[k] for k in keys):
        return ""
    return words("facts.cost", words=effect.words, parameters=f"{variant.trained['parameters']:,}",
                 flops=flops(variant.trained["flops_per_image"]),
                 base_parameters=f"{base.trained['parameters']:,}",
                 base_flops=flops(base.trained["flops_per_image"]))


def seed_range(run: FinishedRun, measure: str = "test_acc") -> tuple[float, float]:
    values = describe([r.metrics[measure] for r in seed_runs(run)])
    return values["min"], values["max"]


def spread_fact(base: FinishedRun, variant: FinishedRun, effect: Effect, words: Messages) -> str:
    (b_low, b_high), (v_low, v_high) = seed_range(base), seed_range(variant)
    if v_high - v_low <= max(WIDER_SEEDS * (b_high - b_low), effect.margin):
        return ""
    return words("facts.spread", words=effect.words, low=pct(v_low), high=pct(v_high), base_low=pct(b_low),
                 base_high=pct(b_high))


def has_shifted(run: FinishedRun) -> bool:
    return all(SHIFTED in r.metrics for r in seed_runs(run))


def shifted_effect(base: FinishedRun, variant: FinishedRun, words: str) -> Effect | None:
    """The variant against the base on shifted test images (None where a run lacks them)."""
    if not (has_shifted(base) and has_shifted(variant)):
        return None
    d = next(paired_table([(variant.name, variant, SHIFTED, base, SHIFTED)]).itertuples())
    margin = conclusions.test_set_margin(mean_metric(base, SHIFTED), mean_metric(variant, SHIFTED),
                                         base.trained["test_size"])
    return Effect(words, d, margin)


def shifted_fact(base: FinishedRun, variant: FinishedRun, effect: Effect, words: Messages) -> str:
    shifted = shifted_effect(base, variant, effect.words)
    if shifted is None or shifted.verdict not in (BETTER, WORSE) or shifted.verdict == effect.verdict:
        return ""
    direction = "higher" if shifted.verdict == BETTER else "lower"
    return words(f"facts.shifted_{direction}", words=effect.words, size=size(shifted.d.mean_diff))


def facts(base: FinishedRun, variant: FinishedRun, effect: Effect, words: Messages) -> list[str]:
    """The measured facts that hold for this variant, the likeliest cause first."""
    sentences = [fact(base, variant, effect, words)
                 for fact in (per_class_fact, steps_fact, cost_fact, spread_fact, shifted_fact)]
    return [s for s in sentences if s]
