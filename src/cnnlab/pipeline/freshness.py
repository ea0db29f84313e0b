"""Whether Snakemake's jobs are current, judged by what the results record, not by file times.

Snakemake reruns a job when an input is newer than its outputs, or when its own record of the job
(.snakemake/metadata) differs. Both mislead for results that DVC made (`dvc repro` leaves that
record behind) or brought (`dvc pull` writes files in any order). So each job's inputs are chosen
here, by what the results say of themselves, and nothing is written while the workflow is read
(`snakemake -n` changes no file):

- a run: its train.json names its recipe and the digest of the training code; its metrics.json the
  digests of the model it evaluated and of the evaluation code (cnnlab.results.kept, which `cnnlab
  train` and `cnnlab evaluate` use to keep a current run);
- an experiment's summary: summary.json names its seeds; an experiment's plots and the report, where
  the project is a DVC repository: `dvc status` of their stages (DVC hashes what they were made from);
- a dataset: its folder holds files (DVC's fetch stage leaves an empty one for a dataset left out).

A job that is current, and all of whose upstream jobs are, takes its inputs as `ancient`: no time
makes it rerun. A job found out of date takes one more input, newer than any result: a file made
for this one reading of the workflow in Snakemake's own temporary folder (which Snakemake removes
when it ends), so the job runs and nothing in the project is touched. A job after one that runs
follows it, as Snakemake plans it. A job with nothing to judge it by (no DVC, results not made yet)
is left to Snakemake's times. Snakemake's rerun triggers `input` and `params` are off
(workflow/profiles/): they read its own record of the jobs it ran, which another tool leaves stale.
"""

from functools import cache, cached_property
from pathlib import Path

from snakemake.io import ancient

from cnnlab.config import run_config
from cnnlab.errors import CnnlabError
from cnnlab.results import layout
from cnnlab.results.kept import evaluated_current, trained_current
from cnnlab.results.records import TRAIN_FILES, read_json

CURRENT, STALE, FOLLOWS, UNKNOWN = "current", "stale", "follows", "unknown"


class Freshness:
    """The state of each job of the workflow: CURRENT (its results and everything before them are
    current), STALE (its results are out of date: it runs), FOLLOWS (a job before it runs, so it
    will too) or UNKNOWN (nothing to judge it by: Snakemake's times decide). With `judge` false (a
    job's own process on a cluster node, which runs the job it is given), every job is UNKNOWN."""

    def __init__(self, job_configs: dict, data_root: str, study: list[str], scratch: Path, judge: bool = True):
        self.job_configs, self.data_root, self.study, self.judge = job_configs, data_root, study, judge
        self.scratch = scratch  # a folder that lives as long as this reading of the workflow

    @cached_property
    def out_of_date(self) -> str:
        """The input that makes an out-of-date job run: a file newer than every result."""
        marker = self.scratch / "results-out-of-date"
        marker.touch()
        return str(marker)

    @cached_property
    def changed(self) -> set[str] | None:
        """The stages that `dvc status` finds changed (by content, against dvc.lock), or None where the
        project is no DVC repository. Asked once, when a job needs it; DVC writes only its own caches
        (.dvc/tmp) to answer."""
        if not Path(".dvc").is_dir():
            return None
        from dvc.repo import Repo  # seconds to import: only where a summary, plot or report is judged

        with Repo(".") as repo:
            return set(repo.status())

    def inputs(self, job: tuple, files: list) -> list:
        """`files` as the inputs of `job` ("train", exp, seed), ("summarize", exp), ("report",) ...:
        ancient when the job is current, with one input newer than its results when it is out of date."""
        state = self.state(job)
        if state == CURRENT:
            return [ancient(file) for file in files]
        return [*files, self.out_of_date] if state == STALE else list(files)

    def dataset_input(self, experiment: str) -> object:
        """The folder of `experiment`'s dataset: ancient (a dataset is known by its content, checked when
        fetched), unless its fetch is to run, so that the jobs after it run too."""
        folder = self.dataset_folder(experiment)
        return folder if self.state(("fetch", self.job_configs[experiment]["dataset"])) == STALE else ancient(folder)

    def dataset_folder(self, experiment: str) -> str:
        return f"{self.data_root}/{self.job_configs[experiment]['dataset']}"

    @cache
    def state(self, job: tuple) -> str:
        if not self.judge:
            return UNKNOWN
        before = [self.state(upstream) for upstream in self.upstream(job)]
        if any(state in (STALE, FOLLOWS) for state in before):
            return FOLLOWS
        own = self.own_record(job)
        if own is False:
            return STALE
        return CURRENT if own and all(state == CURRENT for state in before) else UNKNOWN

    def upstream(self, job: tuple) -> list[tuple]:
        step, *key = job
        if step == "fetch":
            return []
        if step in ("train", "evaluate"):
            exp, seed = key
            fetch = ("fetch", self.job_configs[exp]["dataset"])
            return [fetch] if step == "train" else [fetch, ("train", exp, seed)]
        if step == "report":
            return [(step, exp) for exp in self.study for step in ("summarize", "plot")]
        exp = key[0]
        seeds = self.job_configs[exp]["seeds"]
        runs = [("evaluate", exp, seed) for seed in seeds]
        return runs if step == "summarize" else [*runs, ("summarize", exp)]

    def own_record(self, job: tuple) -> bool | None:
        """Whether `job`'s results say they are current: True, False, or None where there are none
        to ask (Snakemake runs a job whose outputs are missing) or no record says."""
        step, *key = job
        if step == "fetch":
            folder = Path(self.data_root) / key[0]
            return any(folder.iterdir()) if folder.is_dir() else None
        if step in ("train", "evaluate"):
            exp, seed = key
            folder = layout.run_folder(f"results/{exp}", seed)
            cfg = run_config(self.job_configs[exp], seed)
            if step == "train":
                return trained_current(cfg, folder) and all((folder / name).is_file() for name in TRAIN_FILES) \
                    if (folder / "train.json").is_file() else None
            return evaluated_current(cfg, folder) if (folder / "metrics.json").is_file() else None
        if step == "summarize":
            return self.summary_current(key[0])
        stage, made = (f"plot@{key[0]}", Path(f"results/{key[0]}/plots")) if step == "plot" else \
            ("report", Path("results/report.html"))
        if not made.exists() or self.changed is None:
            return None
        return stage not in self.changed

    def summary_current(self, exp: str) -> bool | None:
        """summary.json lists the experiment's seeds (and, with DVC, its stage is current)."""
        path = Path(f"results/{exp}/summary.json")
        if not path.is_file():
            return None
        try:
            seeds = read_json(path, ("seeds",), "")["seeds"]
        except CnnlabError:
            return False
        if seeds != self.job_configs[exp]["seeds"]:
            return False
        return None if self.changed is None else f"summary@{exp}" not in self.changed
