"""How the report writes a number over the seeds with its interval, and what a paired difference
says: within what the number can be, and never more than the seeds support.

cnnlab.analysis.statistics.interval_kind decides; here are the words. An interval is printed only where it is
one ("t"); where Student's t interval would leave 0-100 % (an accuracy) or ±100 pp (a difference) the
seeds' range stands instead, and fewer than three seeds that agree exactly get no interval. Each of
those two cases is explained once per paragraph or table (`caveats`), not at every number.
"""

import pandas as pd

from cnnlab.analysis.statistics import ACCURACY, interval_kind
from cnnlab.text import count

SEEDS_RANGE = "the seeds range"  # the phrase of a range that stands for an interval
AGREE = "agree exactly"  # the phrase of seeds that give a zero-width interval
CAVEATS = {
    SEEDS_RANGE: ("Where the seeds' range stands instead of a 95 % interval, the seeds lie so far apart "
                  "that Student's t interval would leave what the number can be (0-100 % for an accuracy, "
                  "±100 pp for a difference): no conclusion is drawn from them."),
    AGREE: ("Fewer than three seeds that agree exactly give an interval of zero width, which is no "
            "evidence: a third seed may land elsewhere, so no conclusion is drawn from them."),
}


def pct(fraction) -> str:
    return "–" if fraction is None or pd.isna(fraction) else f"{fraction * 100:.2f} %"


def pp(fraction) -> str:
    """A difference of accuracies in percentage points, signed."""
    return "–" if fraction is None or pd.isna(fraction) else f"{fraction * 100:+.2f} pp"


def interval(low, high, unit: str = "") -> str:
    return "" if low is None or pd.isna(low) else f"[{low * 100:.2f}, {high * 100:.2f}]{unit}"


def caveats(text: str) -> str:
    """The caveat of each kind of missing interval that `text` shows, each once ('' when none)."""
    return " ".join(sentence for phrase, sentence in CAVEATS.items() if phrase in text)


def accuracy_text(described: dict) -> str:
    """An accuracy over the seeds (statistics.describe's fields; a summary.json's too):
    '98.95 ± 0.12 % (n = 5)', the mean ± half its 95 % interval; else the seeds' range or why there
    is no interval."""
    n, mean = described["n"], described["mean"]
    kind = interval_kind(described, ACCURACY)  # from the numbers: a summary.json may predate `interval`
    if kind == "none":
        return f"{pct(mean)} (n = 1, no interval)"
    if kind == "range":
        low, high = described["min"] * 100, described["max"] * 100
        return f"{pct(mean)} (n = {n}; {SEEDS_RANGE} {low:.2f}-{high:.2f} %)"
    if kind == "no spread":
        return f"{pct(mean)} (n = {n}; the seeds {AGREE}, no interval)"
    half = (described["ci_high"] - described["ci_low"]) / 2
    return f"{mean * 100:.2f} ± {half * 100:.2f} % (n = {n})"


def difference_interval(d) -> str:
    """A paired difference's interval (a row of tables.paired_table): '[-0.52, -0.10] pp' or what
    stands instead ('' with fewer than two common seeds)."""
    if d.interval == "range":
        return f"none inside ±100 pp: {SEEDS_RANGE} {pp(d.min_diff)} to {pp(d.max_diff)}"
    if d.interval == "no spread":
        return f"none: {count(d.n, 'seed')} {AGREE}"
    return interval(d.ci_low, d.ci_high, " pp")


def difference_text(d) -> str:
    """'-0.31 pp [-0.52, -0.10] (5 common seeds)'; the seeds' range, or no interval, where the
    interval would say more than the seeds do."""
    seeds = count(d.n, "common seed")
    if d.interval == "range":
        return f"{pp(d.mean_diff)} ({seeds}; {SEEDS_RANGE} {pp(d.min_diff)} to {pp(d.max_diff)})"
    if d.interval == "no spread":
        return f"{pp(d.mean_diff)} ({seeds} that {AGREE}, no interval)"
    spread = interval(d.ci_low, d.ci_high) or "no interval"
    return f"{pp(d.mean_diff)} {spread} ({seeds})"


def comparison_sentence(c) -> str:
    """What the numbers support, and no more: 'is better by' only from a t interval beside 0."""
    if c.interval == "range":
        return "no conclusion: the seeds lie too far apart for an interval"
    if c.interval == "no spread":
        return "no conclusion from two seeds: run a third"
    if pd.isna(c.ci_low):
        return f"{c.n} common seed(s): no interval; run more seeds to tell"
    if c.ci_low > 0:
        return f"{c.a} is better by {pp(c.mean_diff)} (the whole interval is above 0)"
    if c.ci_high < 0:
        return f"{c.b} is better by {pp(-c.mean_diff)} (the whole interval is below 0)"
    return "within the noise of the seeds: the interval contains 0"
