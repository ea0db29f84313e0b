"""The rules that turn a question's paired statistics into its opening conclusion (no training):
synthetic per-seed differences where the effect is absent, reversed, within the seeds' or the test
set's noise, or where the seeds disagree."""

import types

import pytest

from cnnlab.analysis import statistics
from cnnlab.reporting import conclusions
from cnnlab.reporting.conclusions import (
    BELOW_TEST_SET,
    BETTER,
    DISAGREE,
    NO_DIFFERENCE,
    NO_EVIDENCE,
    WORSE,
    Effect,
)
from cnnlab.reporting.language import ENGLISH

BASE = "batch 64"
MARGIN = conclusions.test_set_margin(0.99, 0.99, 10_000)  # 0.28 pp: MNIST-like accuracies


def effect(differences_pp: list[float], words: str = "batch 16", base_acc: float = 0.95) -> Effect:
    """A variant whose test accuracy differs from the base's by `differences_pp` at seeds 0, 1, ..."""
    base = {seed: base_acc for seed in range(len(differences_pp))}
    variant = {seed: base_acc + d / 100 for seed, d in enumerate(differences_pp)}
    return Effect(words, types.SimpleNamespace(**statistics.paired(variant, base)), MARGIN)


def test_the_margin_is_twice_the_binomial_se_of_a_difference():
    assert MARGIN == pytest.approx(2 * (2 * 0.99 * 0.01 / 10_000) ** 0.5)
    assert f"{MARGIN * 100:.2f}" == "0.28"


@pytest.mark.parametrize("differences, verdict", [
    ([-0.30, -0.45, -0.38, -0.41, -0.33], WORSE),  # beyond the seeds' and the test set's noise
    ([0.30, 0.45, 0.38, 0.41, 0.33], BETTER),  # the same, reversed
    ([0.02, -0.03, 0.01, 0.00, -0.01], NO_DIFFERENCE),  # no effect
    ([0.5, -0.2, 0.3, -0.1, 0.1], NO_DIFFERENCE),  # the seeds' noise covers it
    ([0.10, 0.12, 0.09, 0.11, 0.10], BELOW_TEST_SET),  # consistent, but under 0.28 pp
    ([3.0, -2.0, 4.0], DISAGREE),  # ahead at some seeds, behind at another, each beyond 0.28 pp
    ([-60.0, -5.0], NO_EVIDENCE),  # far apart: the interval would leave ±100 pp
    ([5.86, 5.86], NO_EVIDENCE),  # two seeds that agree exactly
    ([5.0], NO_EVIDENCE),  # one seed
])
def test_the_verdict_follows_the_rules(differences, verdict):
    assert effect(differences).verdict == verdict


def test_no_common_seed_is_no_evidence():
    d = types.SimpleNamespace(**statistics.paired({0: 0.9}, {1: 0.8}))
    assert conclusions.judge(d, MARGIN) == NO_EVIDENCE
    assert "no common seed" in conclusions.clause(Effect("x", d, MARGIN), ENGLISH)


def test_a_loss_says_keep_the_base_and_its_size():
    worse = effect([-80.1, -80.3, -79.9], "the training set sorted by class")
    text = conclusions.conclusion("the training set shuffled every epoch", [worse], ENGLISH)
    assert text == ("Keep the training set shuffled every epoch: with the training set sorted by class, "
                    "test accuracy falls by 80.10 pp.")


def test_a_gain_says_prefer_the_variant_and_a_small_one_is_slight():
    text = conclusions.conclusion(BASE, [effect([0.30, 0.45, 0.38, 0.41, 0.33])], ENGLISH)
    assert text == f"Prefer batch 16 to {BASE}: with batch 16, test accuracy rises slightly, by 0.37 pp."
    assert "Keep" not in text and "falls" not in text


def test_no_effect_says_so_with_the_number_of_seeds_and_claims_nothing_else():
    flat = effect([0.02, -0.03, 0.01, 0.00, -0.01])
    text = conclusions.conclusion(BASE, [flat], ENGLISH)
    assert text == "No measurable difference at 5 seeds: batch 16 changes nothing measurable."
    (sentence,) = conclusions.evidence([flat], ENGLISH)
    assert sentence.startswith("Within the seeds' noise (a 95 % interval that contains 0): -0.00 pp [")
    assert not any(word in text + sentence for word in ("Prefer", "Keep", "rises", "falls", "disagree"))


def test_within_the_test_sets_noise_is_no_measurable_difference():
    small = effect([0.10, 0.12, 0.09, 0.11, 0.10])
    assert conclusions.conclusion(BASE, [small], ENGLISH) == (
        "No measurable difference at 5 seeds: batch 16 moves test accuracy by +0.10 pp, less than the test "
        "set resolves.")
    (sentence,) = conclusions.evidence([small], ENGLISH)
    assert "within twice the test set's binomial SE (0.28 pp)" in sentence


def test_seeds_that_disagree_give_no_advice_and_their_range():
    split = effect([3.0, -2.0, 4.0])
    assert conclusions.conclusion(BASE, [split], ENGLISH) == (
        "No conclusion: with batch 16 the seeds disagree.")
    (sentence,) = conclusions.evidence([split], ENGLISH)
    assert "run from -2.00 pp to +4.00 pp" in sentence


@pytest.mark.parametrize("differences, why", [([5.86, 5.86], "two seeds that agree exactly"),
                                              ([5.0], "one common seed"),
                                              ([-60.0, -5.0], "seeds too far apart for an interval")])
def test_no_evidence_says_why_and_writes_no_evidence_sentence(differences, why):
    unjudged = effect(differences)
    text = conclusions.conclusion(BASE, [unjudged], ENGLISH)
    assert text == f"No conclusion yet: batch 16 cannot be judged from {why}."
    assert conclusions.evidence([unjudged], ENGLISH) == []


def test_each_kind_of_verdict_gets_one_sentence_naming_its_variants():
    effects = [effect([-0.30, -0.45, -0.38, -0.41, -0.33], "batch 16"),
               effect([-1.1, -1.3, -1.2, -1.0, -1.2], "batch 1024"),
               effect([0.02, -0.03, 0.01, 0.00, -0.01], "batch 256")]
    text = conclusions.conclusion(BASE, effects, ENGLISH)
    assert text == (f"Keep {BASE}: with batch 16, test accuracy falls slightly, by 0.37 pp; with batch 1024, "
                    "test accuracy falls by 1.16 pp; batch 256 changes nothing measurable.")
    decided, flat = conclusions.evidence(effects, ENGLISH)
    assert "-0.37 pp [" in decided and "(5 common seeds) with batch 16;" in decided
    assert decided.count(" with batch 1024") == 1
    assert "(0.28 and 0.28 pp)" in decided and "batch 256" not in decided
    assert flat.endswith("(5 common seeds) with batch 256.")


def test_a_gain_beside_a_loss_prefers_the_best_variant():
    effects = [effect([-2.0, -2.2, -2.1], "batch 1024"), effect([0.9, 1.1, 1.0], "batch 32"),
               effect([1.5, 1.7, 1.6], "batch 16")]
    assert conclusions.conclusion(BASE, effects, ENGLISH).startswith(f"Prefer batch 16 to {BASE}: ")



def test_a_wide_interval_around_zero_is_no_evidence_and_shows_the_seeds():
    """Four seeds as the base, one collapsed to chance: the interval contains 0 but allows an effect
    of many points, so no "no measurable difference" (the published run's batch 1024, scaled lr)."""
    collapsed = effect([-0.24, 0.0, -0.11, 0.10, -87.58], base_acc=0.9893)
    assert collapsed.d.ci_low < -0.5 < 0 < collapsed.d.ci_high and collapsed.verdict == NO_EVIDENCE
    assert conclusions.clause(collapsed, ENGLISH) == (
        "batch 16 cannot be judged from seeds whose differences range from -87.58 pp to +0.10 pp")
    assert effect([-0.24, 0.0, -0.11, 0.10, -0.30]).verdict == NO_DIFFERENCE  # the noise of the seeds
