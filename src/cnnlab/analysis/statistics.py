"""The statistics of replicates: one experiment run over several seeds.

Pure functions over plain sequences (lists, numpy arrays, pandas Series); every t quantile and test
comes from scipy. Accuracies are fractions (0.9911), not percents. Every result is a dict of
plain floats, strings and None (never NaN), ready for JSON.

An interval is only reported where it means something: `interval` (describe, paired) says how
(interval_kind): "t" the t interval, "range" the seeds' min and max instead (the t interval leaves
what the value can be: 0-1 for an accuracy, +-1 for a difference of two), "no spread" (fewer than
three seeds that agree exactly: a zero-width interval, no evidence), "none" (one value).
ci_low and ci_high stay the plain t interval in every case.
"""

import math

import numpy as np
from scipy import special

CONFIDENCE = 0.95  # the one level of every interval and of the verdict rule
ACCURACY = (0.0, 1.0)  # what an accuracy can be
DIFFERENCE = (-1.0, 1.0)  # what a difference of two accuracies can be
UNBOUNDED = (-math.inf, math.inf)
FEWEST_SEEDS_WITHOUT_SPREAD = 3  # two seeds that agree exactly may be chance: no evidence of no spread
# Values closer than this (relative to their size) count as equal. An accuracy is a count over at
# most millions of images (steps of 1e-7 or more), so a smaller spread is the rounding of float
# arithmetic (0.99 - 0.94 != 0.98 - 0.93), on which a t-test would compute noise and scipy warns of
# "catastrophic cancellation".
TIE = 1e-9


def tied(low: float, high: float) -> bool:
    """low and high are the same number up to float rounding (TIE)."""
    return high - low <= TIE * max(1.0, abs(low), abs(high))


def _finite_array(values) -> np.ndarray:
    """The values as floats; the caller guarantees finite numbers, so anything else is a bug."""
    array = np.asarray(values, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"expected at least one finite number, got {list(array)}")
    return array


def _t_half_width(sd: float, n: int, spread_factor: float) -> float:
    """Half the width of a two-sided Student-t interval with n - 1 degrees of freedom:
    t(0.975, n-1) * sd * spread_factor (1/sqrt(n) for the mean, sqrt(1 + 1/n) for one new run)."""
    # special.stdtrit is the function scipy.stats.t.ppf computes the quantile with (the same bits):
    # `cnnlab summarize` needs only this, and scipy.stats takes about a second to import.
    return float(special.stdtrit(n - 1, 0.5 + CONFIDENCE / 2)) * sd * spread_factor


def describe(values, bounds: tuple[float, float] = UNBOUNDED) -> dict:
    """n, mean, sample SD (ddof=1), the 95 % t interval of the mean, min, max, and how to report the
    interval within `bounds` (interval_kind). With one value sd, ci_low and ci_high are None."""
    array = _finite_array(values)
    n, mean = array.size, float(array.mean())
    summary = {"n": n, "mean": mean, "sd": None, "ci_low": None, "ci_high": None,
               "min": float(array.min()), "max": float(array.max())}
    if n >= 2:
        # equal values (up to TIE): exactly 0, not rounding noise (sds and t_p rely on sd > 0)
        sd = 0.0 if tied(summary["min"], summary["max"]) else float(array.std(ddof=1))
        half_width = _t_half_width(sd, n, 1 / math.sqrt(n))
        summary.update(sd=sd, ci_low=mean - half_width, ci_high=mean + half_width)
    summary["interval"] = interval_kind(summary, bounds)
    return summary


def interval_kind(summary: dict, bounds: tuple[float, float]) -> str:
    """How an interval of `summary` (n, ci_low, ci_high: describe's or paired's) may be reported:
    "none" (one value), "range" (the t interval leaves `bounds`: give the values' range),
    "no spread" (fewer than FEWEST_SEEDS_WITHOUT_SPREAD values, all equal) or "t"."""
    if summary["ci_low"] is None:
        return "none"
    if summary["ci_low"] < bounds[0] or summary["ci_high"] > bounds[1]:
        return "range"
    if summary["n"] < FEWEST_SEEDS_WITHOUT_SPREAD and tied(summary["ci_low"], summary["ci_high"]):
        return "no spread"
    return "t"


def paired(a: dict, b: dict, bounds: tuple[float, float] = DIFFERENCE) -> dict:
    """A against B over the seeds both have (a and b map seed -> accuracy; a pandas Series indexed
    by seed works too). differences[i] = a - b at seeds[i]; min_diff, max_diff their range;
    interval: how to report the interval within `bounds` (interval_kind).

    With fewer than 2 common seeds only n, seeds, differences, mean_diff, min_diff, max_diff and
    p_a_greater are given (None with no common seed) and the test fields are None.
    t_p is None when the differences have no spread (all equal up to TIE: the t statistic is
    undefined, and scipy would test float rounding);
    wilcoxon_p is None when all differences are zero (the signed-rank test has nothing to rank).
    p_a_greater: the fraction of common seeds where A > B, a tie counting half.
    """
    from scipy import stats  # here: only the report compares pairs (see _t_half_width)

    seeds = sorted(set(a.keys()) & set(b.keys()))
    n = len(seeds)
    differences = _finite_array([a[seed] - b[seed] for seed in seeds]) if n else np.array([])
    comparison = {"n": n, "seeds": seeds, "differences": [float(d) for d in differences],
                  "mean_diff": None, "ci_low": None, "ci_high": None, "t_p": None, "wilcoxon_p": None,
                  "p_a_greater": None, "min_diff": None, "max_diff": None, "interval": "none"}
    if n == 0:
        return comparison
    wins = np.sum(differences > 0) + 0.5 * np.sum(differences == 0)
    interval = describe(differences, bounds)
    comparison.update(mean_diff=interval["mean"], p_a_greater=float(wins / n), min_diff=interval["min"],
                      max_diff=interval["max"], ci_low=interval["ci_low"], ci_high=interval["ci_high"],
                      interval=interval["interval"])
    if n < 2:
        return comparison
    if interval["sd"] > 0:
        a_values, b_values = [a[seed] for seed in seeds], [b[seed] for seed in seeds]
        comparison["t_p"] = float(stats.ttest_rel(a_values, b_values).pvalue)
    if np.any(differences != 0):
        comparison["wilcoxon_p"] = float(stats.wilcoxon(differences).pvalue)
    return comparison


def verdict(reference: float, values, rounding: float, floor: bool = False) -> dict:
    """A published accuracy (`reference`) against our runs (`values`, one per seed).

    Our 95 % prediction interval for one new run, mean ± t(0.975, n-1) * sd * sqrt(1 + 1/n), is
    widened on each side by rounding / 2 (the published number's own rounding: 0.001 for "99.1 %").
    The verdict says where OURS lies relative to the reference:
      "reproduced"  the reference lies inside [low, high]
      "ours above"  our whole interval lies above the reference (low > reference)
      "ours below"  our whole interval lies below the reference (high < reference)
      "one seed"    one run gives no interval; low, high and sds are None
    floor=True: the reference is a floor ("98 %+"), reproduced when high >= reference, else "ours below".
    sds = (our mean - reference) / our sd: positive when ours is above; None with one seed or sd 0.
    """
    if not math.isfinite(reference) or not rounding >= 0:
        raise ValueError(f"expected a finite reference and rounding >= 0, got {reference}, {rounding}")
    summary = describe(values)
    n, mean, sd = summary["n"], summary["mean"], summary["sd"]
    if n < 2:
        return {"verdict": "one seed", "low": None, "high": None, "sds": None}
    half_width = _t_half_width(sd, n, math.sqrt(1 + 1 / n)) + rounding / 2
    low, high = mean - half_width, mean + half_width
    if high < reference:
        outcome = "ours below"
    elif floor or low <= reference:
        outcome = "reproduced"
    else:
        outcome = "ours above"
    sds = (mean - reference) / sd if sd > 0 else None
    return {"verdict": outcome, "low": low, "high": high, "sds": sds}


def binomial_se(accuracy: float, n_images: int) -> float:
    """The test set's own sampling error of an accuracy: sqrt(p (1 - p) / n)
    (about 0.001 at p = 0.99 and 0.004 at p = 0.80 on 10,000 images)."""
    if not 0 <= accuracy <= 1 or n_images < 1:
        raise ValueError(f"expected 0 <= accuracy <= 1 and n_images >= 1, got {accuracy}, {n_images}")
    return math.sqrt(accuracy * (1 - accuracy) / n_images)


def rule_text() -> str:
    """The verdict rule in words, for the report."""
    level = f"{CONFIDENCE:.0%}"
    return (f"A published accuracy counts as reproduced when it lies inside our {level} prediction interval "
            f"for one new run (mean ± t({0.5 + CONFIDENCE / 2:g}, n−1) · SD · √(1 + 1/n) over our seeds), "
            "widened on each side by half the published number's rounding; a published floor "
            "(\"98 %+\") is reproduced when the interval's upper end reaches it. "
            "One seed gives no interval, so only the number is shown.")
