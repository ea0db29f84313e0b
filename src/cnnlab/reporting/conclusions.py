"""An answer's opening: the conclusion the paired statistics support, in plain words, and the
evidence for it. A few rules (judge), applied to each variant's paired difference to its base:

- fewer than two common seeds, two seeds that agree exactly, or seeds too far apart for an interval
  inside ±100 pp: no evidence (the clause says why);
- the seeds disagree: some put the variant ahead, others behind, each by more than the test set's
  noise (MARGIN_SES binomial SEs of a difference);
- the 95 % interval contains 0: no measurable difference, if it lies within ±SMALL_EFFECT; an
  interval that still allows a larger effect (a seed that collapsed among seeds that did not) is no
  evidence either way, and the clause gives the seeds' differences;
- the interval leaves out 0 but the mean is within the test set's noise: below what the test set
  resolves (another draw of test images could reverse it);
- else better or worse, by the mean; under SMALL_EFFECT it is said to be slight.

A sentence whose condition is not met is not written: the conclusion and the evidence only name the
verdicts that occur. The rules decide here; the words are the catalog's (language.Messages), so a
report in each language says the same.
"""

import math
from dataclasses import dataclass

from cnnlab.reporting.intervals import difference_text, pp
from cnnlab.reporting.language import Messages

# The verdicts; each is also its entry's name in the catalogs' `clause`, `verdict` and `conclusion`.
BETTER, WORSE, BELOW_TEST_SET, NO_DIFFERENCE, DISAGREE, NO_EVIDENCE = (
    "better", "worse", "below_test_set", "no_difference", "disagree", "no_evidence")
MARGIN_SES = 2  # a difference within about 2 SEs (95 %) is what the test set's draw alone may give
SMALL_EFFECT = 0.01  # under 1 pp an effect is said to be slight


@dataclass(frozen=True)
class Effect:
    """A variant against its base: what it changes in words, and its paired difference (a row of
    tables.paired_table: n, mean_diff, ci_low, ci_high, min_diff, max_diff, interval)."""

    words: str
    d: object
    margin: float  # MARGIN_SES binomial SEs of the difference of the two test accuracies (a fraction)

    @property
    def verdict(self) -> str:
        return judge(self.d, self.margin)


def test_set_margin(base_acc: float, variant_acc: float, test_size: int) -> float:
    """MARGIN_SES binomial SEs of a difference of two accuracies on `test_size` test images."""
    return MARGIN_SES * math.sqrt((base_acc * (1 - base_acc) + variant_acc * (1 - variant_acc)) / test_size)


def judge(d, margin: float) -> str:
    """The verdict on one paired difference (variant − base); the module's docstring gives the rules."""
    if d.n < 2 or d.interval in ("none", "no spread"):
        return NO_EVIDENCE
    if d.min_diff < -margin and d.max_diff > margin:
        return DISAGREE
    if d.interval == "range":
        return NO_EVIDENCE
    if d.ci_low <= 0 <= d.ci_high:
        return NO_DIFFERENCE if max(-d.ci_low, d.ci_high) <= SMALL_EFFECT else NO_EVIDENCE
    if abs(d.mean_diff) <= margin:
        return BELOW_TEST_SET
    return BETTER if d.mean_diff > 0 else WORSE


def no_evidence_why(d, words: Messages) -> str:
    if d.n < 2:
        return words("no_evidence.one_common_seed" if d.n else "no_evidence.no_common_seed")
    if d.interval == "no spread":
        return words("no_evidence.agree")
    if d.interval == "range":
        return words("no_evidence.too_far")
    return words("no_evidence.wide", low=pp(d.min_diff), high=pp(d.max_diff))


def size(difference: float) -> str:
    """A difference's size without its sign: '0.25 pp' (the verb says the direction)."""
    return f"{abs(difference) * 100:.2f} pp"


def clause(effect: Effect, words: Messages) -> str:
    """What one variant does, as a clause of the conclusion."""
    d, verdict = effect.d, effect.verdict
    if verdict in (BETTER, WORSE):
        slightly = "_slightly" if abs(d.mean_diff) < SMALL_EFFECT else ""
        return words(f"clause.{verdict}{slightly}", words=effect.words, size=size(d.mean_diff))
    why = no_evidence_why(d, words) if verdict == NO_EVIDENCE else ""
    return words(f"clause.{verdict}", words=effect.words, difference=pp(d.mean_diff), why=why)


def verdict_words(effect: Effect, words: Messages) -> str:
    """The verdict alone, for a difference the answer states in full elsewhere."""
    why = no_evidence_why(effect.d, words) if effect.verdict == NO_EVIDENCE else ""
    return words(f"verdict.{effect.verdict}", why=why)


def conclusion(base_words: str, effects: list[Effect], words: Messages) -> str:
    """One sentence: the advice the verdicts support, then what each variant does."""
    verdicts = [e.verdict for e in effects]
    if BETTER in verdicts:
        best = max((e for e in effects if e.verdict == BETTER), key=lambda e: e.d.mean_diff)
        lead = words("conclusion.better", best=best.words, base=base_words)
    elif WORSE in verdicts:
        lead = words("conclusion.worse", base=base_words)
    elif NO_DIFFERENCE in verdicts or BELOW_TEST_SET in verdicts:
        seeds = min(e.d.n for e in effects if e.verdict in (NO_DIFFERENCE, BELOW_TEST_SET))
        lead = words("conclusion.no_difference", seeds=words.count("seeds", seeds))
    elif DISAGREE in verdicts:
        lead = words("conclusion.disagree")
    else:
        lead = words("conclusion.no_evidence")
    clauses = words("join.list").join(clause(e, words) for e in effects)
    return words("conclusion.sentence", lead=lead, clauses=clauses)


def evidence(effects: list[Effect], words: Messages) -> list[str]:
    """A sentence for each kind of verdict that occurs, carried by the paired differences."""
    def of(*verdicts):
        return [e for e in effects if e.verdict in verdicts]

    def margins(chosen):
        return words("join.and").join(f"{e.margin * 100:.2f}" for e in chosen) + " pp"

    def differences(chosen):  # each variant named where the answer has several
        return words("join.list").join(
            words("evidence.difference_with", difference=difference_text(e.d, words), words=e.words)
            if len(effects) > 1 else difference_text(e.d, words) for e in chosen)

    sentences = []
    if decided := of(BETTER, WORSE):
        sentences.append(words("evidence.decided", differences=differences(decided),
                               margins=margins(decided)))
    if flat := of(NO_DIFFERENCE):
        sentences.append(words("evidence.no_difference", differences=differences(flat)))
    if small := of(BELOW_TEST_SET):
        sentences.append(words("evidence.below_test_set", differences=differences(small),
                               margins=margins(small)))
    for e in of(DISAGREE):
        sentences.append(words("evidence.disagree", words=e.words, low=pp(e.d.min_diff),
                               high=pp(e.d.max_diff), margins=margins([e])))
    return sentences
