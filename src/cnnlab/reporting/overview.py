"""The top of report.html and report.md: how many experiments the report holds (the names stand in
the Summary and under Experiments, not in one paragraph at the top), which of the study's are not
run yet or left out of the study (and why: config.study), and whether reduced-scale runs are among
them."""

from cnnlab import config
from cnnlab.reporting.tables import reduced_scale
from cnnlab.results.records import FinishedRun
from cnnlab.text import count


def smoke_note(params: dict, runs: list[FinishedRun]) -> str:
    """The warning that reduced-scale runs are in the report ('' when none is)."""
    smoke = sorted({r.cfg["scale"] for r in runs if reduced_scale(params, r.cfg)})
    return "" if not smoke else (
        f"Runs at {', '.join(smoke)} scale are in this report: they train on small subsets for few "
        "epochs to check that the pipeline works. Their numbers are not results and are never counted "
        "as reproductions.")


def missing(params: dict, runs: list[FinishedRun]) -> tuple[list[str], list[str]]:
    """The study's experiments without results, and those on the datasets the study leaves out."""
    chosen, evaluated = config.study_experiments(params), {r.name for r in runs}
    return [n for n in chosen if n not in evaluated], [n for n in params["experiments"] if n not in chosen]


def counts_sentence(params: dict, runs: list[FinishedRun]) -> str:
    """'31 experiments evaluated; 2 not run yet; 4 left out of the study'."""
    not_run, left_out = missing(params, runs)
    return "; ".join([count(len(runs), "experiment") + " evaluated",
                      *([f"{len(not_run)} not run yet"] if not_run else []),
                      *([f"{len(left_out)} left out of the study"] if left_out else [])])


def missing_sentence(params: dict, runs: list[FinishedRun]) -> str:
    """The names of the experiments without results, and of those left out with why and how to put
    them in ('' when none is)."""
    not_run, _ = missing(params, runs)
    sentences = [f"Not run: {', '.join(not_run)}."] if not_run else []
    for dataset, why in config.left_out_datasets(params).items():
        names = [n for n, spec in params["experiments"].items() if spec["dataset"] == dataset]
        if names:
            sentences.append(f"Left out of the study: {', '.join(names)} ({dataset}: {why}).")
    return " ".join(sentences)
