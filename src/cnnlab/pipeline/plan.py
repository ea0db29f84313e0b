"""`cnnlab plan`: before the run, every job of the study, its time and memory here, and its data.

Times and peak memory come from a few seconds of real training steps per setup
(`cnnlab.pipeline.calibrate`); what is already up to date comes from Snakemake's own `--summary` of `all`,
the target that `make study` builds; where each dataset would come from is checked on disk, and
the internet only when nothing on disk has the dataset.
"""

import csv
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cnnlab import config
from cnnlab.data.catalog import DATASETS
from cnnlab.data.sources import data_sources
from cnnlab.errors import CnnlabError
from cnnlab.pipeline import calibrate
from cnnlab.pipeline.workflow_support import JOB_THREADS
from cnnlab.text import count

ADVICE = ("run it on a GPU (device: cuda) or a cluster (`snakemake --executor ...`), or make it smaller: "
          "fewer seeds, fewer epochs (--set epochs=N), or leave its dataset out of `datasets`")


@dataclass
class Job:
    """One training run of the study: an experiment at one seed."""

    cfg: dict
    status: str = "?"  # what Snakemake would do: "to run", "evaluate only", "up to date", ...
    measured: dict | None = None  # calibrate.calibrate's figures
    flops: int = 0

    def seconds(self, evaluate_only: bool = False) -> float | None:
        """Estimated seconds of its train job (every epoch trains, validates and tests) and its
        evaluate job, each with the measured start-up of a cnnlab process; or of evaluate alone."""
        if self.measured is None:
            return None
        m, (train, val, test) = self.measured, calibrate.split_sizes(self.cfg)
        evaluate = m["startup_seconds"] + test / m["eval_ips"]
        epoch = train / m["train_ips"] + (val + test) / m["eval_ips"]
        return evaluate if evaluate_only else m["startup_seconds"] + self.cfg["epochs"] * epoch + evaluate

    @property
    def to_run(self) -> float | None:
        """Estimated seconds of what `make study` would still run of it (all when unknown)."""
        if self.status in ("up to date", "not in `all`"):
            return 0.0
        return self.seconds(evaluate_only=self.status == "evaluate only")


def study_jobs(params: dict, overrides: list[str]) -> list[Job]:
    import torch

    from cnnlab.models import create_model
    from cnnlab.training import runtime
    from cnnlab.training.engine import flops_per_image

    jobs = []
    for name in config.study_experiments(params):
        recipe = config.experiment_config(params, name, overrides)
        for seed in recipe["seeds"]:
            cfg = config.run_config(recipe, seed)
            device = runtime.pick_device(cfg["device"])  # refuses cuda where there is none
            cfg.update(device=device.type, precision=runtime.pick_precision(cfg["precision"], device))
            model = create_model(cfg["model"], len(DATASETS[cfg["dataset"]].classes))
            jobs.append(Job(cfg, flops=flops_per_image(model, cfg["model"], torch.device("cpu"))))
    return jobs


def snakemake_status(jobs: list[Job]) -> str:
    """Fill in each job's status from `snakemake --summary all`; returns a note on the source.

    The summary is Snakemake's own table of every output `all` needs, with its plan ("no update"
    or "update pending"): the very decision `make study` makes, parsed by column name. As a dry run
    without a lock, it writes no log and no lock file (a plan changes nothing).
    """
    done = subprocess.run([sys.executable, "-m", "snakemake", "--summary", "all", "--dry-run", "--nolock"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"status unknown: `snakemake --summary all` failed ({last})"
    pending = {}  # (experiment, seed) -> rules whose outputs Snakemake would make again
    lines = done.stdout.splitlines()  # a dry run says "Building DAG of jobs..." before the table
    table = lines[next((i for i, line in enumerate(lines) if line.startswith("output_file\t")), 0):]
    for row in csv.DictReader(table, delimiter="\t"):
        parts = Path(row["output_file"]).parts  # results/EXP/runs/seed<k>/FILE (cnnlab.results.layout)
        if len(parts) == 5 and parts[0] == "results" and row["rule"] in ("train", "evaluate"):
            rules = pending.setdefault((parts[1], parts[3]), set())
            if row["plan"] != "no update":
                rules.add(row["rule"])
    for job in jobs:
        rules = pending.get((job.cfg["name"], f"seed{job.cfg['seed']}"))
        if rules is None:
            job.status = "not in `all`"
        else:
            job.status = "to run" if "train" in rules else "evaluate only" if rules else "up to date"
    return "status: Snakemake's view (`snakemake --summary all`), what `make study` would run"


def measure(jobs: list[Job], threads: int, seconds: float, run_new: bool) -> str:
    """Fill in the calibration of each job, from the cache or (if `run_new`) measured now."""
    from cnnlab.io import atomic_write_json, check_writable

    cache, new = calibrate.read_cache(), 0
    if run_new and any(calibrate.cache_key(job.cfg, threads, seconds) not in cache for job in jobs):
        try:  # refused now, not after minutes of measuring
            calibrate.CACHE.parent.mkdir(exist_ok=True)
            check_writable(calibrate.CACHE.parent)
        except OSError as err:
            raise CnnlabError(f"{calibrate.CACHE.parent.absolute()}: cannot keep the measurements there "
                              f"({err.strerror}); make it writable, or plan with --no-calibrate") from None
    for job in jobs:
        key = calibrate.cache_key(job.cfg, threads, seconds)
        if key not in cache and run_new:
            print(f"calibrating {job.cfg['name']} ...", file=sys.stderr, flush=True)
            cache[key], new = calibrate.calibrate(job.cfg, threads, seconds), new + 1
            atomic_write_json(calibrate.CACHE, cache)  # each at once: an interrupted plan keeps them
        job.measured = cache.get(key)
    missing = sum(job.measured is None for job in jobs)
    loads = [job.measured["load_average"] for job in jobs if job.measured]
    return (f"estimates: {seconds:g} s of real training steps per setup on random data, "
            f"{count(threads, 'thread')}; "
            f"{new} setup(s) measured now, {len(jobs) - new - missing} job(s) from {calibrate.CACHE}"
            + (f"; {missing} not measured (run without --no-calibrate)" if missing else "")
            + (f"\n  load average while measuring: {min(loads):.1f}-{max(loads):.1f} "
               f"(other work on this machine slows the estimates down)" if loads else "")
            + "\npeak MB: the peak resident memory (VmHWM) of a process that holds the whole dataset, "
              "trains and evaluates one batch (on CUDA: torch's peak allocation)")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 \
        else f"{seconds / 3600:.1f} h"


def plan(params: dict, params_path: Path, overrides: list[str], threads: int | None, budget_hours: float,
         calibrate_now: bool, calibration_seconds: float, table: bool = True) -> str:
    threads = threads or JOB_THREADS
    jobs = study_jobs(params, overrides)
    if overrides or params_path.resolve() != Path("params.yaml").resolve():
        notes = ["status: not shown with --set or --params (`make study` runs params.yaml as it is)"]
    else:
        notes = [snakemake_status(jobs)]
    notes.append(measure(jobs, threads, calibration_seconds, calibrate_now))
    budget = budget_hours * 3600
    width = max(len(name) for name in ["experiment", *(job.cfg["name"] for job in jobs)])  # the first column
    lines = [f"{'experiment':{width}s}  {'seed':>4s}  {'epochs':>6s}  {'images/epoch':>12s}  "
             f"{'MFLOP/img':>9s}  {'device':9s}  {'status':13s}  {'time':>8s}  {'peak MB':>7s}"]
    for job in jobs:
        cfg, to_run = job.cfg, job.to_run
        # what is left to run; in brackets the whole run, of what `make study` would not run
        time = duration(to_run) if to_run != 0 else f"({duration(job.seconds())})"
        peak = f"{job.measured['peak_memory_mb']:,.0f}" if job.measured else "-"
        flag = "  ! over budget" if job.seconds() is not None and job.seconds() > budget else ""
        lines.append(f"{cfg['name']:{width}s}  {cfg['seed']:4d}  {cfg['epochs']:6d}  "
                     f"{calibrate.split_sizes(cfg)[0]:12,d}  {job.flops / 1e6:9,.2f}  "
                     f"{cfg['device'] + ' ' + cfg['precision']:9s}  {job.status:13s}  {time:>8s}  "
                     f"{peak:>7s}{flag}")
    lanes = max(1, (os.cpu_count() or 1) // threads)
    lines = lines + [""] if table else []
    if any(job.to_run is None for job in jobs):
        lines += ["total to run: not known (some jobs are not measured)"]
    else:
        total = sum(job.to_run for job in jobs)
        lines += [f"total to run: {duration(total)}; `make study` trains {lanes} job(s) at a time "
                  f"({os.cpu_count()} cores, {count(threads, 'thread')} a job): "
                  f"about {duration(total / lanes)}"]
    over = {}  # experiment -> the times of its seeds' jobs over the budget
    for job in jobs:
        if job.seconds() is not None and job.seconds() > budget:
            over.setdefault(job.cfg["name"], []).append(job.seconds())
    if over:
        lines.append(f"over the budget of {budget_hours:g} h a job: " + ", ".join(
            f"{name} ({duration(max(times))}) x {count(len(times), 'seed')}"
            for name, times in over.items()))
        lines.append(f"  what to do: {ADVICE}")
    left_out = Counter(job.cfg["name"] for job in jobs if job.status == "not in `all`")  # seeds each
    if left_out:
        names = ", ".join(f"{name} ({count(seeds, 'seed')})" for name, seeds in left_out.items())
        lines.append(f"not in `all`: {names} (needs ImageNet weights in torch's cache; "
                     "`snakemake --cores 1 results/EXP/summary.json` runs it, downloading them)")
    lines += ["", "data:"]
    names = list(dict.fromkeys(job.cfg["dataset"] for job in jobs))  # in the study's order
    for name, source, available in data_sources(params, names):
        lines.append(f"  {name:14s} {source}")
        if not available:
            users = len({job.cfg["name"] for job in jobs if job.cfg["dataset"] == name})
            lines.append(f"  {'':14s} -> its {users} experiment(s) would fail: get a copy into the mirror, "
                         f"or leave {name} out of `datasets`")
    for name, why in config.left_out_datasets(params).items():
        lines.append(f"  {name:14s} left out of the study: {why}")
    return "\n".join(lines + [""] + notes)
