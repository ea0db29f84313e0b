"""Why a variant differs from its base, from what its runs measured: each fact is a sentence written
only when its condition holds, so a question of one's own gets the ones that apply to it.

- per class: the change is uneven across the classes (UNEVEN_CLASSES apart);
- steps: the batch size or the epochs changed, so the number of optimizer steps did;
- cost: parameters or FLOPs per image differ;
- spread: the variant's seeds lie far wider apart than the base's;
- shifted images: the accuracy on shifted test images says otherwise than the plain one.
"""

import math

from cnnlab.analysis.statistics import describe
from cnnlab.reporting import conclusions
from cnnlab.reporting.conclusions import BETTER, WORSE, Effect, size
from cnnlab.reporting.intervals import pct
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


def class_moves(name: str, before: float, after: float) -> str:
    if after == before:
        return f"class {name} stays at {pct(after)}"
    return f"class {name} {'rises' if after > before else 'falls'} from {pct(before)} to {pct(after)}"


def per_class_fact(base: FinishedRun, variant: FinishedRun, effect: Effect) -> str:
    tables = per_class(base), per_class(variant)
    if effect.verdict not in (BETTER, WORSE) or tables[0] is None or tables[1] is None:
        return ""  # only an effect the seeds establish is worth explaining class by class
    before, after = tables[0]["accuracy"], tables[1]["accuracy"]
    change = (after - before).dropna()
    if change.empty or change.max() - change.min() < UNEVEN_CLASSES:
        return ""
    low, high = change.idxmin(), change.idxmax()
    return (f"The change is uneven across the classes: with {effect.words}, "
            f"{class_moves(low, before[low], after[low])} and {class_moves(high, before[high], after[high])} "
            "(per-class test accuracy, the seeds' counts added up).")


def steps_fact(base: FinishedRun, variant: FinishedRun, words: str) -> str:
    if all(variant.cfg[k] == base.cfg[k] for k in ("batch_size", "epochs")):
        return ""
    steps, base_steps = steps_per_epoch(variant), steps_per_epoch(base)
    return (f"With {words} an epoch is {variant.trained['train_size']:,} training images / "
            f"{variant.cfg['batch_size']} = {steps:,} steps against {base_steps:,}, so training takes "
            f"{steps * variant.trained['epochs']:,} steps against {base_steps * base.trained['epochs']:,}.")


def cost_fact(base: FinishedRun, variant: FinishedRun, words: str) -> str:
    keys = ("parameters", "flops_per_image")
    if all(variant.trained[k] == base.trained[k] for k in keys):
        return ""
    return (f"With {words}: {variant.trained['parameters']:,} parameters and "
            f"{flops(variant.trained['flops_per_image'])}FLOPs per image, against "
            f"{base.trained['parameters']:,} and {flops(base.trained['flops_per_image'])}FLOPs.")


def seed_range(run: FinishedRun, measure: str = "test_acc") -> tuple[float, float]:
    values = describe([r.metrics[measure] for r in seed_runs(run)])
    return values["min"], values["max"]


def spread_fact(base: FinishedRun, variant: FinishedRun, effect: Effect) -> str:
    (b_low, b_high), (v_low, v_high) = seed_range(base), seed_range(variant)
    if v_high - v_low <= max(WIDER_SEEDS * (b_high - b_low), effect.margin):
        return ""
    return (f"With {effect.words} the seeds lie far apart: {pct(v_low)} to {pct(v_high)}, against "
            f"{pct(b_low)} to {pct(b_high)} for the base.")


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


def shifted_fact(base: FinishedRun, variant: FinishedRun, effect: Effect) -> str:
    shifted = shifted_effect(base, variant, effect.words)
    if shifted is None or shifted.verdict not in (BETTER, WORSE) or shifted.verdict == effect.verdict:
        return ""
    direction = "higher" if shifted.verdict == BETTER else "lower"
    return (f"On test images shifted by a few pixels, though, {effect.words} scores "
            f"{size(shifted.d.mean_diff)} {direction} than the base, beyond the seeds' and the test "
            "set's noise.")


def facts(base: FinishedRun, variant: FinishedRun, effect: Effect) -> list[str]:
    """The measured facts that hold for this variant, the likeliest cause first."""
    sentences = [per_class_fact(base, variant, effect), steps_fact(base, variant, effect.words),
                 cost_fact(base, variant, effect.words), spread_fact(base, variant, effect),
                 shifted_fact(base, variant, effect)]
    return [s for s in sentences if s]
