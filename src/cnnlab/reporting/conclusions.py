"""An answer's opening: the conclusion the paired statistics support, in plain words, and the
evidence for it. A few rules (judge), applied to each variant's paired difference to its base:

- fewer than two common seeds, two seeds that agree exactly, or seeds too far apart for an interval
  inside ±100 pp: no evidence (the clause says why);
- the seeds disagree: some put the variant ahead, others behind, each by more than the test set's
  noise (MARGIN_SES binomial SEs of a difference);
- the 95 % interval contains 0: no measurable difference;
- the interval leaves out 0 but the mean is within the test set's noise: below what the test set
  resolves (another draw of test images could reverse it);
- else better or worse, by the mean; under SMALL_EFFECT it is said to be slight.

A sentence whose condition is not met is not written: the conclusion and the evidence only name the
verdicts that occur.
"""

import math
from dataclasses import dataclass

from cnnlab.reporting.intervals import difference_text, pp
from cnnlab.text import count

BETTER, WORSE, BELOW_TEST_SET, NO_DIFFERENCE, DISAGREE, NO_EVIDENCE = (
    "better", "worse", "below the test set", "no difference", "disagree", "no evidence")
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
        return NO_DIFFERENCE
    if abs(d.mean_diff) <= margin:
        return BELOW_TEST_SET
    return BETTER if d.mean_diff > 0 else WORSE


def no_evidence_why(d) -> str:
    if d.n < 2:
        return "one common seed" if d.n else "no common seed"
    if d.interval == "no spread":
        return "two seeds that agree exactly"
    return "seeds too far apart for an interval"


def size(difference: float) -> str:
    """A difference's size without its sign: '0.25 pp' (the verb says the direction)."""
    return f"{abs(difference) * 100:.2f} pp"


def clause(effect: Effect) -> str:
    """What one variant does, as a clause of the conclusion."""
    d, verdict, words = effect.d, effect.verdict, effect.words
    if verdict in (BETTER, WORSE):
        slightly = "slightly, " if abs(d.mean_diff) < SMALL_EFFECT else ""
        moves = "rises" if verdict == BETTER else "falls"
        return f"with {words}, test accuracy {moves} {slightly}by {size(d.mean_diff)}"
    if verdict == NO_DIFFERENCE:
        return f"{words} changes nothing measurable"
    if verdict == BELOW_TEST_SET:
        return f"{words} moves test accuracy by {pp(d.mean_diff)}, less than the test set resolves"
    if verdict == DISAGREE:
        return f"with {words} the seeds disagree"
    return f"{words} cannot be judged from {no_evidence_why(d)}"


def verdict_words(effect: Effect) -> str:
    """The verdict alone, for a difference the answer states in full elsewhere."""
    if effect.verdict == NO_EVIDENCE:
        return f"no conclusion from {no_evidence_why(effect.d)}"
    return {BETTER: "higher, beyond the seeds' noise and the test set's",
            WORSE: "lower, beyond the seeds' noise and the test set's",
            NO_DIFFERENCE: "within the seeds' noise", BELOW_TEST_SET: "within the test set's noise",
            DISAGREE: "the seeds disagree"}[effect.verdict]


def conclusion(base_words: str, effects: list[Effect]) -> str:
    """One sentence: the advice the verdicts support, then what each variant does."""
    verdicts = [e.verdict for e in effects]
    if BETTER in verdicts:
        best = max((e for e in effects if e.verdict == BETTER), key=lambda e: e.d.mean_diff)
        lead = f"Prefer {best.words} to {base_words}"
    elif WORSE in verdicts:
        lead = f"Keep {base_words}"
    elif NO_DIFFERENCE in verdicts or BELOW_TEST_SET in verdicts:
        seeds = min(e.d.n for e in effects if e.verdict in (NO_DIFFERENCE, BELOW_TEST_SET))
        lead = f"No measurable difference at {count(seeds, 'seed')}"
    elif DISAGREE in verdicts:
        lead = "No conclusion"
    else:
        lead = "No conclusion yet"
    clauses = "; ".join(clause(e) for e in effects)
    return f"{lead}: {clauses}."


def evidence(effects: list[Effect]) -> list[str]:
    """A sentence for each kind of verdict that occurs, carried by the paired differences."""
    def of(*verdicts):
        return [e for e in effects if e.verdict in verdicts]

    def margins(chosen):
        return " and ".join(f"{e.margin * 100:.2f}" for e in chosen) + " pp"

    def differences(chosen):  # each variant named where the answer has several
        return "; ".join(f"{difference_text(e.d)} with {e.words}" if len(effects) > 1
                         else difference_text(e.d) for e in chosen)

    sentences = []
    if decided := of(BETTER, WORSE):
        sentences.append(f"Paired over the seeds, {differences(decided)}: no 95 % interval contains 0, and "
                         f"no mean lies within twice the test set's binomial SE ({margins(decided)}).")
    if flat := of(NO_DIFFERENCE):
        sentences.append(f"Within the seeds' noise (a 95 % interval that contains 0): {differences(flat)}.")
    if small := of(BELOW_TEST_SET):
        sentences.append(f"Consistent over the seeds but small: {differences(small)}, within twice the "
                         f"test set's binomial SE ({margins(small)}): another draw of test images could "
                         "reverse it.")
    for e in of(DISAGREE):
        sentences.append(f"With {e.words} the seeds' paired differences run from {pp(e.d.min_diff)} to "
                         f"{pp(e.d.max_diff)}: both ends beyond twice the test set's binomial SE "
                         f"({margins([e])}).")
    return sentences
