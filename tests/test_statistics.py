"""cnnlab.analysis.statistics against independent calculations (textbook formulas, scipy called directly).

The three runs [0.989, 0.990, 0.991] have mean 0.990 and sample SD 0.001 (population SD 0.00082);
t(0.975, 2) = 4.303 against z = 1.960, so a z interval, a population SD or the interval of the mean
instead of the prediction interval each change the numbers and the verdicts below.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from cnnlab.analysis import statistics

RUNS = [0.99, 0.991, 0.989]
MEAN, SD, N = 0.99, 0.001, 3
T_975_2 = 4.302652729749462  # t(0.975, 2) from a printed table, to 16 digits


def prediction_interval(values, rounding=0.0):
    """Textbook: mean ± t(0.975, n-1) * s * sqrt(1 + 1/n), s the sample SD, then ± rounding / 2."""
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * s * math.sqrt(1 + 1 / n) + rounding / 2
    return mean - half, mean + half


def test_describe_known_values():
    summary = statistics.describe(RUNS)
    low, high = stats.t.interval(0.95, N - 1, loc=MEAN, scale=SD / math.sqrt(N))
    assert summary["n"] == N
    assert summary["mean"] == pytest.approx(MEAN)
    assert summary["sd"] == pytest.approx(SD)  # the population SD would be 0.000816
    assert summary["ci_low"] == pytest.approx(low) and summary["ci_high"] == pytest.approx(high)
    assert summary["ci_high"] - MEAN == pytest.approx(T_975_2 * SD / math.sqrt(N))  # not z = 1.96
    assert (summary["min"], summary["max"]) == (0.989, 0.991)


def test_describe_takes_a_pandas_series_and_equal_values():
    summary = statistics.describe(pd.Series([0.98, 0.98]))
    assert (summary["sd"], summary["ci_low"], summary["ci_high"]) == (0.0, 0.98, 0.98)


def test_describe_one_value_has_no_spread_and_is_json():
    summary = statistics.describe([0.9911])
    assert summary == {"n": 1, "mean": 0.9911, "sd": None, "ci_low": None, "ci_high": None,
                       "min": 0.9911, "max": 0.9911, "interval": "none"}
    json.dumps(summary, allow_nan=False)


def test_an_accuracy_interval_that_would_leave_0_to_1_is_reported_as_the_range():
    diverged = statistics.describe([0.098, 0.98], statistics.ACCURACY)  # one seed diverged
    assert diverged["ci_low"] < 0 < 1 < diverged["ci_high"]  # the t interval itself, unchanged
    assert diverged["interval"] == "range" and (diverged["min"], diverged["max"]) == (0.098, 0.98)
    near_one = statistics.describe([0.999, 0.9999], statistics.ACCURACY)  # leaves above 1 only
    assert near_one["ci_high"] > 1 and near_one["interval"] == "range"
    assert statistics.describe(RUNS, statistics.ACCURACY)["interval"] == "t"
    assert statistics.describe([0.098, 0.98])["interval"] == "t"  # unbounded: any interval is possible


def test_a_difference_that_would_leave_100_pp_is_reported_as_the_range():
    comparison = statistics.paired({1: 0.9, 2: 0.1}, {1: 0.1, 2: 0.8})  # differences +0.8 and -0.7
    assert comparison["ci_low"] < -1 and comparison["ci_high"] > 1
    assert comparison["interval"] == "range"
    assert (comparison["min_diff"], comparison["max_diff"]) == pytest.approx((-0.7, 0.8))
    json.dumps(comparison, allow_nan=False)


def test_two_seeds_that_agree_exactly_are_no_evidence_three_are():
    # binary fractions: each difference is exactly 0.25, no float rounding
    two = statistics.paired({1: 0.5, 2: 0.75}, {1: 0.25, 2: 0.5})
    assert (two["ci_low"], two["ci_high"]) == (0.25, 0.25) and two["interval"] == "no spread"
    assert two["t_p"] is None
    three = statistics.paired({1: 0.5, 2: 0.75, 3: 1.0}, {1: 0.25, 2: 0.5, 3: 0.75})
    assert three["interval"] == "t" and three["ci_low"] == three["ci_high"] == 0.25
    assert statistics.describe([0.98, 0.98], statistics.ACCURACY)["interval"] == "no spread"
    assert statistics.describe([0.98] * 3, statistics.ACCURACY)["interval"] == "t"


@pytest.mark.filterwarnings("error")  # scipy's "Precision loss ... catastrophic cancellation" fails it
@pytest.mark.parametrize("n", [2, 3])
def test_near_identical_seeds_are_equal_and_warn_nothing(n):
    a, b = {1: 0.99, 2: 0.98, 3: 0.97}, {1: 0.94, 2: 0.93, 3: 0.92}
    a, b = {s: a[s] for s in range(1, n + 1)}, {s: b[s] for s in range(1, n + 1)}
    differences = [a[s] - b[s] for s in a]
    assert min(differences) < max(differences)  # 0.05 each, up to float rounding
    comparison = statistics.paired(a, b)
    assert comparison["t_p"] is None  # no spread: the t statistic would be rounding noise over noise
    assert comparison["ci_low"] == comparison["ci_high"] == pytest.approx(0.05)
    assert comparison["interval"] == ("no spread" if n == 2 else "t")
    assert statistics.describe(differences)["sd"] == 0.0


@pytest.mark.parametrize("values", [[0.99, float("nan")], [float("inf")], []])
def test_describe_refuses_nan_inf_and_nothing(values):
    with pytest.raises(ValueError, match="finite"):
        statistics.describe(values)


def test_paired_a_always_better():
    b = {3: 0.90, 1: 0.91, 2: 0.92, 4: 0.93, 5: 0.94, 9: 0.50}  # seed 9: B only
    gains = {3: 0.008, 1: 0.010, 5: 0.009, 2: 0.012, 4: 0.011}
    a = {seed: b[seed] + gain for seed, gain in gains.items()} | {7: 0.1}  # seed 7: A only
    comparison = statistics.paired(a, b)
    diffs = [gains[seed] for seed in [1, 2, 3, 4, 5]]
    mean = sum(diffs) / 5
    s = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4)
    t = mean / (s / math.sqrt(5))
    assert comparison["n"] == 5 and comparison["seeds"] == [1, 2, 3, 4, 5]
    assert comparison["differences"] == pytest.approx(diffs)
    assert comparison["mean_diff"] == pytest.approx(0.010)
    half = stats.t.ppf(0.975, 4) * s / math.sqrt(5)
    assert comparison["ci_low"] == pytest.approx(mean - half)
    assert comparison["ci_high"] == pytest.approx(mean + half)
    assert comparison["t_p"] == pytest.approx(2 * stats.t.sf(t, 4))
    assert comparison["wilcoxon_p"] == pytest.approx(2 / 2**5)  # exact: all 5 signs positive
    assert comparison["p_a_greater"] == 1.0
    json.dumps(comparison, allow_nan=False)


def test_paired_direction_and_ties_count_half():
    a = pd.Series({1: 0.90, 2: 0.80, 3: 0.70, 4: 0.60})
    b = pd.Series({1: 0.90, 2: 0.85, 3: 0.75, 4: 0.61})
    comparison = statistics.paired(a, b)
    assert comparison["mean_diff"] == pytest.approx(-0.0275)
    assert comparison["p_a_greater"] == pytest.approx(0.5 / 4)  # seed 1 ties, B wins 2, 3, 4


def test_paired_identical_runs_have_no_test():
    runs = {1: 0.9, 2: 0.8, 3: 0.7}
    comparison = statistics.paired(runs, dict(runs))
    assert comparison["differences"] == [0.0, 0.0, 0.0]
    assert (comparison["mean_diff"], comparison["ci_low"], comparison["ci_high"]) == (0.0, 0.0, 0.0)
    assert comparison["t_p"] is None and comparison["wilcoxon_p"] is None
    assert comparison["p_a_greater"] == 0.5
    json.dumps(comparison, allow_nan=False)


def test_paired_one_and_no_common_seed():
    one = statistics.paired({1: 0.9, 2: 0.8}, {2: 0.75, 3: 0.7})
    assert one["n"] == 1 and one["seeds"] == [2] and one["differences"] == pytest.approx([0.05])
    assert one["mean_diff"] == pytest.approx(0.05) and one["p_a_greater"] == 1.0
    assert [one[k] for k in ("ci_low", "ci_high", "t_p", "wilcoxon_p")] == [None] * 4
    none = statistics.paired({1: 0.9}, {2: 0.8})
    assert none["n"] == 0 and none["differences"] == [] and none["mean_diff"] is None
    assert none["p_a_greater"] is None


def test_verdict_reproduced_with_the_prediction_interval():
    # 0.994 lies outside a z interval (high 0.9923) and the mean's t interval (0.9925): only
    # the t prediction interval for one new run (high 0.99497) reaches it.
    result = statistics.verdict(0.994, RUNS, rounding=0.0)
    low, high = prediction_interval(RUNS)
    assert result["verdict"] == "reproduced"
    assert result["low"] == pytest.approx(low) and result["high"] == pytest.approx(high)
    assert high - MEAN == pytest.approx(T_975_2 * SD * math.sqrt(1 + 1 / N))
    assert result["sds"] == pytest.approx((MEAN - 0.994) / SD)  # -4: ours is below the reference


def test_verdict_ours_above_and_below():
    above = statistics.verdict(0.98, RUNS, rounding=0.0)
    assert above["verdict"] == "ours above" and above["sds"] == pytest.approx(10.0)
    below = statistics.verdict(0.996, RUNS, rounding=0.0)
    assert below["verdict"] == "ours below" and below["sds"] == pytest.approx(-6.0)


def test_verdict_rounding_widens_below_into_reproduced():
    # "99.6 %" is given to 0.1 points: rounding 0.001 adds 0.0005 to each side, high 0.99547 < 0.996
    assert statistics.verdict(0.996, RUNS, rounding=0.001)["verdict"] == "ours below"
    widened = statistics.verdict(0.996, RUNS, rounding=0.003)
    assert widened["verdict"] == "reproduced"
    assert (widened["low"], widened["high"]) == pytest.approx(prediction_interval(RUNS, rounding=0.003))


def test_verdict_floor_is_reached_by_the_upper_end():
    assert statistics.verdict(0.98, RUNS, rounding=0.0, floor=True)["verdict"] == "reproduced"
    assert statistics.verdict(0.9945, RUNS, rounding=0.0, floor=True)["verdict"] == "reproduced"
    assert statistics.verdict(0.9955, RUNS, rounding=0.0, floor=True)["verdict"] == "ours below"


def test_verdict_one_seed():
    assert statistics.verdict(0.99, [0.991], rounding=0.001) == {
        "verdict": "one seed", "low": None, "high": None, "sds": None}


def test_verdict_equal_runs_have_no_sds():
    result = statistics.verdict(0.99, [0.99, 0.99, 0.99], rounding=0.002)
    assert result == {"verdict": "reproduced", "low": pytest.approx(0.989), "high": pytest.approx(0.991),
                      "sds": None}


def test_binomial_se():
    assert statistics.binomial_se(0.99, 10_000) == pytest.approx(0.000994987, rel=1e-6)
    assert statistics.binomial_se(0.80, 10_000) == pytest.approx(0.004)
    with pytest.raises(ValueError):
        statistics.binomial_se(99.1, 10_000)  # a percent, not a fraction


def test_rule_text_follows_the_one_confidence_level(monkeypatch):
    assert "95%" in statistics.rule_text() and "t(0.975" in statistics.rule_text()
    monkeypatch.setattr(statistics, "CONFIDENCE", 0.90)
    assert "90%" in statistics.rule_text() and "t(0.95" in statistics.rule_text()
    result = statistics.verdict(0.99, RUNS, rounding=0.0)
    assert result["high"] - MEAN == pytest.approx(stats.t.ppf(0.95, 2) * SD * math.sqrt(1 + 1 / N))


def test_the_module_does_not_import_torch():
    code = "import sys, cnnlab.analysis.statistics; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


SUMMARIES = {  # synthetic summary.json test_acc entries -> the line `cnnlab summarize` prints
    "t": (statistics.describe(RUNS, statistics.ACCURACY),
          "e: test accuracy 0.9900 ± 0.0010 SD, 95 % interval 0.9875-0.9925 over 3 seeds"),
    "range": (statistics.describe([0.3516, 0.9904], statistics.ACCURACY),
              "e: test accuracy 0.6710 ± 0.4517 SD over 2 seeds; they range 0.3516-0.9904, too far apart "
              "for a 95 % interval inside 0-1"),
    "no spread": (statistics.describe([0.98, 0.98], statistics.ACCURACY),
                  "e: test accuracy 0.9800 over 2 seeds that agree exactly: no interval from fewer than "
                  "three seeds"),
    "none": (statistics.describe([0.98], statistics.ACCURACY), "e: test accuracy 0.9800 over 1 seed"),
    # a summary.json written before `interval` existed: the kind is worked out from its numbers
    "old": ({k: v for k, v in statistics.describe([0.3516, 0.9904]).items() if k != "interval"},
            "e: test accuracy 0.6710 ± 0.4517 SD over 2 seeds; they range 0.3516-0.9904, too far apart "
            "for a 95 % interval inside 0-1"),
}


@pytest.mark.parametrize("case", SUMMARIES)
def test_the_summarize_line_prints_an_interval_only_where_one_is_honest(case, monkeypatch, capsys, tmp_path):
    from cnnlab import cli
    from cnnlab.analysis import summary

    test_acc, line = SUMMARIES[case]
    monkeypatch.setattr(summary, "summarize", lambda cfg, out: {"experiment": "e", "test_acc": test_acc})
    params = Path(__file__).resolve().parents[1] / "params.yaml"
    assert cli.main(["--params", str(params), "summarize", "cnn_mnist", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == line + "\n"
