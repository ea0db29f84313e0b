"""How the report writes a number over the seeds with its interval, and what a paired difference
says: within what the number can be, and never more than the seeds support.

cnnlab.analysis.statistics.interval_kind decides; here are the words. An interval is printed only where it is
one ("t"); where Student's t interval would leave 0-100 % (an accuracy) or ±100 pp (a difference) the
seeds' range stands instead, and fewer than three seeds that agree exactly get no interval. Each of
those two cases is explained once per paragraph or table (`caveats`), not at every number. The words
around the numbers are the report language's (language.Messages); the numbers are written here.
"""

import pandas as pd

from cnnlab.analysis.statistics import ACCURACY, interval_kind
from cnnlab.reporting.language import Messages

CAVEAT_PHRASES = ("seeds_range", "agree")  # the phrases of `interval` whose texts get a caveat


def pct(fraction) -> str:
    return "–" if fraction is None or pd.isna(fraction) else f"{fraction * 100:.2f} %"


def pp(fraction) -> str:
    """A difference of accuracies in percentage points, signed."""
    return "–" if fraction is None or pd.isna(fraction) else f"{fraction * 100:+.2f} pp"


def interval(low, high, unit: str = "") -> str:
    return "" if low is None or pd.isna(low) else f"[{low * 100:.2f}, {high * 100:.2f}]{unit}"


def phrases(words: Messages) -> dict:
    """The phrases a range that stands for an interval and seeds that agree exactly are written
    with; `caveats` finds them in a text."""
    return {phrase: words(f"interval.{phrase}") for phrase in CAVEAT_PHRASES}


def caveats(text: str, words: Messages) -> str:
    """The caveat of each kind of missing interval that `text` shows, each once ('' when none)."""
    return words("join.sentences").join(words(f"interval.caveat_{phrase}")
                                        for phrase, written in phrases(words).items() if written in text)


def accuracy_text(described: dict, words: Messages) -> str:
    """An accuracy over the seeds (statistics.describe's fields; a summary.json's too):
    '98.95 ± 0.12 % (n = 5)', the mean ± half its 95 % interval; else the seeds' range or why there
    is no interval."""
    n, mean = described["n"], described["mean"]
    kind = interval_kind(described, ACCURACY)  # from the numbers: a summary.json may predate `interval`
    if kind == "none":
        return words("interval.accuracy_one", mean=pct(mean))
    if kind == "range":
        low, high = described["min"] * 100, described["max"] * 100
        return words("interval.accuracy_range", mean=pct(mean), n=n, low=f"{low:.2f}", high=f"{high:.2f}",
                     **phrases(words))
    if kind == "no spread":
        return words("interval.accuracy_agree", mean=pct(mean), n=n, **phrases(words))
    half = (described["ci_high"] - described["ci_low"]) / 2
    return f"{mean * 100:.2f} ± {half * 100:.2f} % (n = {n})"


def difference_interval(d, words: Messages) -> str:
    """A paired difference's interval (a row of tables.paired_table): '[-0.52, -0.10] pp' or what
    stands instead ('' with fewer than two common seeds)."""
    if d.interval == "range":
        return words("interval.none_inside", low=pp(d.min_diff), high=pp(d.max_diff), **phrases(words))
    if d.interval == "no spread":
        return words("interval.none_agree", seeds=words.count("seeds", d.n), **phrases(words))
    return interval(d.ci_low, d.ci_high, " pp")


def difference_text(d, words: Messages) -> str:
    """'-0.31 pp [-0.52, -0.10] (5 common seeds)'; the seeds' range, or no interval, where the
    interval would say more than the seeds do."""
    seeds = words.count("common_seeds", d.n)
    if d.interval == "range":
        return words("interval.difference_range", difference=pp(d.mean_diff), seeds=seeds, low=pp(d.min_diff),
                     high=pp(d.max_diff), **phrases(words))
    if d.interval == "no spread":
        return words("interval.difference_agree", difference=pp(d.mean_diff), seeds=seeds, **phrases(words))
    spread = interval(d.ci_low, d.ci_high) or words("interval.no_interval")
    return words("interval.difference", difference=pp(d.mean_diff), spread=spread, seeds=seeds)


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
