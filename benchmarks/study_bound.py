"""How far a finished study ran from its compute bound: its FLOPs at the machine's fp32 matmul peak.

    python benchmarks/study_bound.py PROJECT                 # a project `snakemake all` ran
    python benchmarks/study_bound.py PROJECT --quick         # a smoke run: the peak timed briefly

The bound is the study's training and evaluation FLOPs divided by the fp32 matmul peak measured
now, on this machine, with all its cores (a 2048 x 2048 matmul, `harness.matmul_gflops`): no
schedule of the study's jobs can finish sooner on this CPU in fp32. The FLOPs come from what
each run recorded in its train.json (forward FLOPs per image, as torch's FlopCounterMode counts
convolutions and matmuls, a multiply-add = 2; epochs; the sizes of its splits):
- training: 3 x forward per training image per epoch (the backward pass costs about twice the
  forward), plus 1 x forward for the validation and test passes every epoch runs;
- `cnnlab evaluate`: 1 x forward for the test, validation and shifted-test images.
The wall time is Snakemake's own "Elapsed time" from the run's log (the newest under
PROJECT/.snakemake/log/ that ran jobs, or --log). Per experiment, each run's training job is compared with the
peak at the thread count it ran with (measured too), which says where the time above the bound goes.
Measure the peak on the machine the study ran on, and quiet: it is the bound's denominator.
"""

import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import harness
import torch

ELAPSED = re.compile(r"Elapsed time: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def run_flops(train: dict, metrics: dict | None) -> tuple[float, float]:
    """(training job, evaluate job) FLOPs of one run, from its train.json and metrics.json."""
    forward = train["flops_per_image"]
    per_epoch = 3 * forward * train["train_size"] + forward * (train["val_size"] + train["test_size"])
    evaluated = train["test_size"] + train["val_size"]
    if metrics and "shifted_test_acc" in metrics:
        evaluated += train["test_size"]
    return per_epoch * train["epochs"], (forward * evaluated if metrics else 0.0)


def read_runs(project: Path) -> list[dict]:
    runs = []
    for train_json in sorted(project.glob("results/*/runs/seed*/train.json")):
        train = json.loads(train_json.read_text())
        metrics_json = train_json.with_name("metrics.json")
        metrics = json.loads(metrics_json.read_text()) if metrics_json.exists() else None
        train_flops, evaluate_flops = run_flops(train, metrics)
        runs.append({"experiment": train["experiment"], "model": train["model"], "epochs": train["epochs"],
                     "batch_size": train["config"]["batch_size"], "threads": train.get("threads") or 1,
                     "train_seconds": train["wall_seconds"], "train_flops": train_flops,
                     "evaluate_flops": evaluate_flops})
    return runs


def snakemake_elapsed(log: Path) -> float | None:
    """Snakemake's "Elapsed time" line; a run with nothing to do prints none."""
    match = ELAPSED.search(log.read_text(errors="replace"))
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def study_log(project: Path) -> Path | None:
    """The newest of Snakemake's logs that ran jobs (a later `snakemake -n` or no-op run logs too)."""
    logs = sorted((project / ".snakemake" / "log").glob("*.snakemake.log"), reverse=True)
    return next((log for log in logs if snakemake_elapsed(log) is not None), None)


def by_experiment(runs: list[dict], peaks: dict[int, float]) -> list[dict]:
    grouped = defaultdict(list)
    for run in runs:
        grouped[run["experiment"]].append(run)
    rows = []
    for name, group in grouped.items():
        flops = sum(r["train_flops"] for r in group)
        seconds = sum(r["train_seconds"] for r in group)
        bound = sum(r["train_flops"] / (peaks[r["threads"]] * 1e9) for r in group)
        rows.append({"experiment": name, "model": group[0]["model"], "runs": len(group),
                     "epochs": group[0]["epochs"], "batch_size": group[0]["batch_size"],
                     "threads": sorted({r["threads"] for r in group}), "tflop": flops / 1e12,
                     "train_seconds": seconds, "bound_seconds": bound,
                     "gflops": flops / seconds / 1e9, "times_bound": seconds / bound})
    return sorted(rows, key=lambda row: -row["train_seconds"])


def markdown(result: dict) -> str:
    total, cores = result["total"], os.cpu_count()
    peaks = ", ".join(f"{t} thread{'s' if t > 1 else ''} {g:.0f}" for t, g in result["peak_gflops"].items())
    lines = [
        f"Project: `{result['project']}`; {total['runs']} runs of {len(result['experiments'])} experiments; "
        f"fp32 matmul peak (GFLOP/s): {peaks}.",
        "",
        "| | value |",
        "|---|--:|",
        f"| training FLOPs (incl. each epoch's validation and test) | {total['train_tflop']:,.1f} TFLOP |",
        f"| evaluation FLOPs (`cnnlab evaluate`) | {total['evaluate_tflop']:,.1f} TFLOP |",
        f"| compute bound at the {cores}-core fp32 peak | {total['bound_seconds'] / 60:,.1f} min |",
    ]
    if total["wall_seconds"]:
        lines += [f"| the study's wall time (Snakemake's elapsed) | {total['wall_seconds'] / 60:,.1f} min |",
                  f"| **wall / bound** | **{total['wall_over_bound']:.1f}x** |"]
    lines += [f"| training jobs' own time (sum over jobs) | {total['train_seconds'] / 60:,.1f} job-min |", "",
              "| experiment | model | runs | epochs | batch | threads | TFLOP | training (s, all runs) "
              "| its bound (s) | GFLOP/s a job | x its bound |",
              "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|"]
    for row in result["experiments"]:
        threads = "/".join(map(str, row["threads"]))
        lines.append(f"| {row['experiment']} | {row['model']} | {row['runs']} | {row['epochs']} "
                     f"| {row['batch_size']} | {threads} | {row['tflop']:,.2f} | {row['train_seconds']:,.0f} "
                     f"| {row['bound_seconds']:,.0f} | {row['gflops']:,.1f} | {row['times_bound']:.1f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = harness.parser(__file__, __doc__)
    p.add_argument("project", type=Path, help="a project folder whose study has run (results/, .snakemake/)")
    p.add_argument("--log", type=Path, help="Snakemake's log of the run (default: the newest one)")
    p.add_argument("--matmul-seconds", type=float, default=2.0, help="how long to time each peak")
    args = harness.parse(p, argv, quick={"matmul_seconds": 0.2})

    runs = read_runs(args.project)
    if not runs:
        sys.exit(f"no results/*/runs/seed*/train.json under {args.project}")
    peaks = {}
    for threads in sorted({1, os.cpu_count() or 1} | {r["threads"] for r in runs}):
        torch.set_num_threads(threads)
        peaks[threads] = harness.matmul_gflops(torch.float32, min_seconds=args.matmul_seconds)
    log = args.log or study_log(args.project)
    wall = snakemake_elapsed(log) if log else None
    train_flops = sum(r["train_flops"] for r in runs)
    evaluate_flops = sum(r["evaluate_flops"] for r in runs)
    bound = (train_flops + evaluate_flops) / (peaks[os.cpu_count() or 1] * 1e9)
    result = {
        "project": str(args.project), "log": str(log) if log else None, "peak_gflops": peaks,
        "total": {"runs": len(runs), "train_tflop": train_flops / 1e12,
                  "evaluate_tflop": evaluate_flops / 1e12,
                  "bound_seconds": bound, "wall_seconds": wall,
                  "wall_over_bound": wall / bound if wall else None,
                  "train_seconds": sum(r["train_seconds"] for r in runs)},
        "experiments": by_experiment(runs, peaks),
    }
    return harness.publish(args, result, markdown(result))


if __name__ == "__main__":
    sys.exit(main())
