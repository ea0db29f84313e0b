"""What every benchmark shares: its command line, the machine record, timing, and its one result file.

A benchmark builds its parser with `parser(__file__, __doc__)` (plus `study_options` when it trains the
study's experiments), reads it with `parse(p, argv, quick={...})`, measures, and ends with
`publish(args, numbers, table)`: the table printed under a line naming the command and the machine,
and one JSON file, benchmarks/results/<name>-<date>.json unless --json names another:

    {"benchmark", "date", "command", "quick", "machine", **numbers}

`machine` is the record every run's train.json keeps (`cnnlab.training.runtime.machine`: commit,
CPU, its speed flags, cores, OpenMP's wait policy, the load average as the benchmark started and as
it ended) with the software's versions, torch's threads and CPU capability, and the GPU where one
was used. `--quick` is the smoke size (seconds: it proves the script runs, its numbers mean nothing)
and writes a file only where --json names one. A result file that exists is not overwritten unless
--json names it: benchmarks/results/ is the measured record the docs cite.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import torch

from cnnlab import config
from cnnlab.training import runtime

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def parser(script: str, doc: str, result_file: bool = True) -> argparse.ArgumentParser:
    """--quick, and where the numbers go (--json, --markdown) unless the script names its own files."""
    p = argparse.ArgumentParser(prog=Path(script).name, description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a smoke size: it proves the script runs; no numbers")
    if result_file:
        p.add_argument("--json", type=Path, help="the result file (default: benchmarks/results/"
                                                 "<name>-<date>.json; none with --quick)")
        p.add_argument("--markdown", type=Path, help="write the table here too")
    return p


def study_options(p: argparse.ArgumentParser, experiments: list[str], threads: int | None = None) -> None:
    """The options of a benchmark that trains the study's experiments."""
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--root", type=Path, help="data root (default: data.root of params.yaml)")
    p.add_argument("--experiments", nargs="+", default=experiments, metavar="EXP")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="params.yaml overrides, as `cnnlab train --set` (e.g. precision=bf16)")
    p.add_argument("--threads", type=int, default=threads,
                   help=f"torch threads (default: {threads or 'torch'})")


def parse(p: argparse.ArgumentParser, argv: list[str] | None, quick: dict | None = None):
    """The arguments; with --quick, `quick` replaces the defaults (options given still count). Notes
    the command, the result file and the load average as the benchmark starts."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    if args.quick and quick:
        p.set_defaults(**quick)
        args = p.parse_args(argv)
    args.benchmark = Path(p.prog).stem.replace("_", "-")
    args.command = " ".join(["python", f"benchmarks/{p.prog}", *argv])
    if hasattr(args, "json"):
        args.json = result_path(args)
    args.load_average_start = runtime.load_average()
    return args


def experiment_config(args: argparse.Namespace, name: str, *sets: str) -> dict:
    """The experiment's settings with --root, --set and `sets`; its data not verified (a benchmark
    does not make a result)."""
    params = config.load_params(args.params)
    if args.root:
        params["data"]["root"] = str(args.root)
    params["data"]["verify"] = False
    return config.experiment_config(params, name, [*args.set, *sets])


def run_config(args: argparse.Namespace, name: str, *sets: str) -> dict:
    """One run of the experiment: its first seed."""
    cfg = experiment_config(args, name, *sets)
    return config.run_config(cfg, cfg["seeds"][0])


# ----------------------------------------------------------------------------------------------
# Timing


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "all": values}


def interleaved(measures: dict, repeats: int, warmup: int = 0) -> dict[object, list]:
    """Each of `measures` (name: a function of no arguments) once per repeat, all of them in turn
    before the next repeat, so that a change of the machine's load hits them alike; the first
    `warmup` repeats are not kept. {name: its results, one a repeat}."""
    results = {name: [] for name in measures}
    for repeat in range(warmup + repeats):
        for name, measure in measures.items():
            result = measure()
            if repeat >= warmup:
                results[name].append(result)
            shown = f"{result:,.3f}" if isinstance(result, float) else "done"
            print(f"{'warm-up' if repeat < warmup else f'repeat {repeat - warmup + 1}/{repeats}'} "
                  f"{name}: {shown}, load {runtime.load_average()}", file=sys.stderr, flush=True)
    return results


def timed_command(command: list[str], **options) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of `command` (subprocess.run's options; output captured as text) and its result."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **options)
    return time.perf_counter() - started, done


def matmul_gflops(dtype: torch.dtype, n: int = 2048, min_seconds: float = 1.0,
                  device: torch.device | None = None) -> float:
    """The machine's matmul peak: n x n matmuls for at least `min_seconds` after a small warm-up."""
    device = device or torch.device("cpu")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    small = torch.randn(256, 256, device=device).to(dtype)
    small @ small  # warm-up (small: bf16 without hardware support is very slow)
    a, b = torch.randn(n, n, device=device).to(dtype), torch.randn(n, n, device=device).to(dtype)
    sync()
    reps, started = 0, time.perf_counter()
    while reps == 0 or time.perf_counter() - started < min_seconds:
        a @ b
        sync()
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - started) / 1e9


# ----------------------------------------------------------------------------------------------
# The record


def machine(args: argparse.Namespace, device: torch.device | None = None) -> dict:
    """train.json's machine record over the benchmark's time, with versions, threads and the GPU."""
    info = {**runtime.machine(), "load_average_start": args.load_average_start,
            "load_average_end": runtime.load_average(), **runtime.versions(),
            "threads": torch.get_num_threads(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if device is not None:
        info["device"] = str(device)
    if device is not None and device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                    gpu_memory_mb=props.total_memory / 2**20, cudnn=torch.backends.cudnn.version(),
                    tf32_convolutions=torch.backends.cudnn.allow_tf32,  # torch's default: yes
                    tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    return info


def heading(record: dict) -> str:
    """The lines above every table: what ran, where, and how loaded the machine was."""
    m = record["machine"]
    loads = " → ".join(", ".join(f"{x:.2f}" for x in load or []) or "?"
                       for load in (m["load_average_start"], m["load_average_end"]))
    gpu = f", {m['gpu']} (CUDA {m['cuda']})" if m.get("gpu") else ""
    quick = "  (QUICK sizes: a smoke run, not a measurement)" if record["quick"] else ""
    return (f"Command: `{record['command']}`{quick}\n\n"
            f"Machine: {m['cpu']} ({', '.join(m['cpu_flags'])}), {m['cores']} cores{gpu}; "
            f"torch {m['torch']} ({m['torch_cpu_capability']}), torch threads: {m['threads']}; "
            f"commit {(m['commit'] or 'unknown')[:12]}{' (dirty)' if m['dirty'] else ''}; "
            f"load average (1, 5, 15 min) {loads}; {record['date']}.")


def result_path(args: argparse.Namespace) -> Path | None:
    """--json, else benchmarks/results/<name>-<date>.json for a full run; refused before anything is
    measured where that file is kept already."""
    if args.json or args.quick:
        return args.json
    path = RESULTS / f"{args.benchmark}-{date.today()}.json"
    if path.exists():
        sys.exit(f"{path} exists: it is part of the measured record; name another file with --json")
    return path


def publish(args: argparse.Namespace, numbers: dict, table: str, device: torch.device | None = None,
            show: bool = True) -> int:
    """Print the table under its heading (device_check.py saves after each step, shows once) and
    write the record; exit code 0."""
    record = {"benchmark": args.benchmark, "date": str(date.today()), "command": args.command,
              "quick": args.quick, "machine": machine(args, device), **numbers}
    text = f"{heading(record)}\n\n{table.strip()}\n"
    if show:
        print(text, end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text)
    return 0
