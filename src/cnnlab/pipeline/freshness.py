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

from functools import cached_property
from pathlib import Path

from snakemake.io import ancient

from cnnlab.config import run_config
from cnnlab.errors import CnnlabError
from cnnlab.results import layout
from cnnlab.results.kept import evaluated_current, trained_current
from cnnlab.results.records import TRAIN_FILES, read_json

CURRENT, STALE, FOLLOWS, UNKNOWN = "current", "stale", "follows", "unknown"


class Freshness:
    """The state of each job of the workflow, a job being ("fetch", dataset), ("train", exp, seed),
    ("evaluate", exp, seed), ("summarize", exp), ("plot", exp) or ("report",): CURRENT (its results
    and everything before them are current), STALE (its results are out of date: it runs), FOLLOWS
    (a job before it runs, so it will too) or UNKNOWN (nothing to judge it by: Snakemake's times
    decide). With `judge` false (a job's own process on a cluster node, which runs the job it is
    given), every job is UNKNOWN."""

    def __init__(self, job_configs: dict, data_root: str, study: list[str], scratch: Path,
                 judge: bool = True):
        self.job_configs, self.data_root, self.study, self.judge = job_configs, data_root, study, judge
        self.scratch = scratch  # a folder that lives as long as this reading of the workflow
        self.states = {}

    def inputs(self, job: tuple, files: list) -> list:
        """`files` as the inputs of `job`: ancient when the job is current, with one input newer than
        its results when it is out of date."""
        state = self.state(job)
        if state == CURRENT:
            return [ancient(file) for file in files]
        return [*files, self.out_of_date] if state == STALE else list(files)

    def dataset_input(self, experiment: str) -> object:
        """The folder of `experiment`'s dataset: ancient (a dataset is known by its content, checked
        when fetched), unless its fetch is to run, so that the jobs after it run too."""
        dataset = self.job_configs[experiment]["dataset"]
        folder = f"{self.data_root}/{dataset}"
        return folder if self.state(("fetch", dataset)) == STALE else ancient(folder)

    @cached_property
    def out_of_date(self) -> str:
        """The input that makes an out-of-date job run: a file newer than every result."""
        marker = self.scratch / "results-out-of-date"
        marker.touch()
        return str(marker)

    def state(self, job: tuple) -> str:
        if job not in self.states:
            self.states[job] = self.judged(job) if self.judge else UNKNOWN
        return self.states[job]

    def judged(self, job: tuple) -> str:
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
        if step == "report":
            return [(step, exp) for exp in self.study for step in ("summarize", "plot")]
        exp = key[0]
        if step in ("train", "evaluate"):
            fetch = ("fetch", self.job_configs[exp]["dataset"])
            return [fetch] if step == "train" else [fetch, ("train", *key)]
        runs = [("evaluate", exp, seed) for seed in self.job_configs[exp]["seeds"]]
        return runs if step == "summarize" else [*runs, ("summarize", exp)]

    def own_record(self, job: tuple) -> bool | None:
        """Whether `job`'s results say they are current: True, False, or None where there are none
        to ask (Snakemake runs a job whose outputs are missing) or nothing says."""
        step, *key = job
        return {"fetch": self.fetched, "train": self.trained, "evaluate": self.evaluated,
                "summarize": self.summarized, "plot": self.plotted, "report": self.reported}[step](*key)

    def fetched(self, dataset: str) -> bool | None:
        """The dataset's folder holds files (DVC's fetch stage leaves it empty for a dataset left out)."""
        folder = Path(self.data_root) / dataset
        return any(folder.iterdir()) if folder.is_dir() else None

    def trained(self, exp: str, seed: int) -> bool | None:
        folder = layout.run_folder(f"results/{exp}", seed)
        if not (folder / "train.json").is_file():
            return None
        made = all((folder / name).is_file() for name in TRAIN_FILES)
        return made and trained_current(run_config(self.job_configs[exp], seed), folder)

    def evaluated(self, exp: str, seed: int) -> bool | None:
        folder = layout.run_folder(f"results/{exp}", seed)
        if not (folder / "metrics.json").is_file():
            return None
        return evaluated_current(run_config(self.job_configs[exp], seed), folder)

    def summarized(self, exp: str) -> bool | None:
        """summary.json lists the experiment's seeds, and DVC finds its stage current."""
        path = Path(f"results/{exp}/summary.json")
        if not path.is_file():
            return None
        try:
            if read_json(path, ("seeds",), "")["seeds"] != self.job_configs[exp]["seeds"]:
                return False
        except CnnlabError:
            return False
        return self.dvc_current(f"summary@{exp}")

    def plotted(self, exp: str) -> bool | None:
        return self.dvc_current(f"plot@{exp}") if Path(f"results/{exp}/plots").is_dir() else None

    def reported(self) -> bool | None:
        return self.dvc_current("report") if Path("results/report.html").is_file() else None

    def dvc_current(self, stage: str) -> bool | None:
        return None if self.changed is None else stage not in self.changed

    @cached_property
    def changed(self) -> set[str] | None:
        """The stages that `dvc status` finds changed (by content, against dvc.lock), or None where
        the project is no DVC repository. Asked once, when a job needs it; DVC writes only its own
        caches (.dvc/tmp) to answer."""
        if not Path(".dvc").is_dir():
            return None
        from dvc.repo import Repo  # seconds to import: only where a summary, plot or report is judged

        with Repo(".") as repo:
            return set(repo.status())
