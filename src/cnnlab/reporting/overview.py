"""The top of report.html and report.md: how many experiments the report holds (the names stand in
the Summary and under Experiments, not in one paragraph at the top), which of the study's are not
run yet or left out of the study (and why: config.study), and whether reduced-scale runs are among
them."""

from cnnlab import config
from cnnlab.config.study import WHY_LEFT_OUT
from cnnlab.reporting.language import Messages
from cnnlab.reporting.tables import reduced_scale
from cnnlab.results.records import FinishedRun


def smoke_note(params: dict, runs: list[FinishedRun], words: Messages) -> str:
    """The warning that reduced-scale runs are in the report ('' when none is)."""
    smoke = sorted({r.cfg["scale"] for r in runs if reduced_scale(params, r.cfg)})
    return words("overview.smoke", scales=", ".join(smoke)) if smoke else ""


def missing(params: dict, runs: list[FinishedRun]) -> tuple[list[str], list[str]]:
    """The study's experiments without results, and those on the datasets the study leaves out."""
    chosen, evaluated = config.study_experiments(params), {r.name for r in runs}
    return [n for n in chosen if n not in evaluated], [n for n in params["experiments"] if n not in chosen]


def counts_sentence(params: dict, runs: list[FinishedRun], words: Messages) -> str:
    """'31 experiments evaluated; 2 not run yet; 4 left out of the study'."""
    not_run, left_out = missing(params, runs)
    counts = [words.count("experiments_evaluated", len(runs))]
    counts += [words("overview.not_run_count", n=len(not_run))] if not_run else []
    counts += [words("overview.left_out_count", n=len(left_out))] if left_out else []
    return words("join.list").join(counts)


def missing_sentence(params: dict, runs: list[FinishedRun], words: Messages) -> str:
    """The names of the experiments without results, and of those left out with why and how to put
    them in ('' when none is)."""
    not_run, _ = missing(params, runs)
    sentences = [words("overview.not_run", names=", ".join(not_run))] if not_run else []
    for dataset, why in config.left_out_reasons(params).items():
        names = [n for n, spec in params["experiments"].items() if spec["dataset"] == dataset]
        if names:
            # the English of each kind stays with the decision (config.study); a catalog may translate it
            said = words.get("left_out", why.kind, WHY_LEFT_OUT[why.kind]).format(where=why.where)
            sentences.append(words("overview.left_out", names=", ".join(names), dataset=dataset, why=said))
    return words("join.sentences").join(sentences)
