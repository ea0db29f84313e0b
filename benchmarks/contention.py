"""LeNet-5 training beside other CPU work: does it slow down in proportion, or collapse?

    python benchmarks/contention.py --root data/raw --seconds 6 --repeats 3
    python benchmarks/contention.py --policies unset OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=10000
    python benchmarks/contention.py --scenarios alone            # what a policy costs alone
    python benchmarks/contention.py --quick                      # a smoke run

Every training process is a separate `python benchmarks/contention_worker.py` started with its
OpenMP wait policy in its environment (libgomp, torch's OpenMP here, reads it once, when it loads):
LeNet-5 on real MNIST with the functions `cnnlab train` uses, counting the images it trains within
`--seconds` once every training of the scenario is ready, and training on until it is stopped.

The scenarios, each under every wait policy of `--policies`:

- alone, with 2 threads and with 1 thread;
- beside a competing training (another worker, `--competitor-threads` threads, the same policy:
  two Snakemake jobs colliding), with 2 threads and with 1;
- beside a plain CPU hog (`--competitor-threads` processes of `while True: pass`), 2 and 1 threads;
- two 1-thread trainings side by side (`snakemake --cores 2 --set-threads train=1`).

Each repeat runs every scenario once under each policy (the policies of a scenario back to back),
in the same order, before the next repeat (interleaved); a scenario's number is the median over
the repeats. Slowdown = the rate alone (same threads, same
policy) / the rate beside the other work. "In proportion" is what a fair share of the cores gives:
the threads of all busy processes over the cores (2 + 2 threads on 2 cores: 2x; 1 + 2: 1.5x; the
1-thread pair: 1x). A slowdown over twice that is marked a collapse: threads spinning in OpenMP's
waits while the thread they wait for has no core. Each training also reports the CPU time its
threads used per second of the window (spinning counts) and how many of its threads were busy.

Real MNIST is read from `--root` (a data root holding `mnist/`), else fetched with `cnnlab fetch
mnist` from $CNNLAB_DATA_MIRROR (or the internet) into a temporary folder.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import harness
import torch
from contention_worker import EXPERIMENT, POLICY_VARIABLES, experiment_cfg

WORKER = Path(__file__).with_name("contention_worker.py")
UNSET = "unset"  # no variable: libgomp's default (threads spin a while before they sleep)


@dataclass(frozen=True)
class Scenario:
    name: str
    threads: int  # torch threads of each measured training
    trainings: int = 1  # measured trainings side by side
    competitor: str | None = None  # None, "training" or "hog"


SCENARIOS = {  # --scenarios: key -> the scenarios it runs
    "alone": [Scenario("alone", 2), Scenario("alone", 1)],
    "training": [Scenario("beside a training", 2, competitor="training"),
                 Scenario("beside a training", 1, competitor="training")],
    "hog": [Scenario("beside a CPU hog", 2, competitor="hog"),
            Scenario("beside a CPU hog", 1, competitor="hog")],
    "pair": [Scenario("two 1-thread trainings", 1, trainings=2)],
}


def chosen_scenarios(keys: list[str]) -> list[Scenario]:
    """The scenarios of `keys`, after the two alone (every slowdown is against them)."""
    return SCENARIOS["alone"] + [scenario for key in keys if key != "alone" for scenario in SCENARIOS[key]]


# ----------------------------------------------------------------------------------------------
# The parent: scenarios as processes


def policy_environment(policy: str) -> dict:
    """This process's environment with the policy's variables: a worker gets none of
    POLICY_VARIABLES unless its policy names it."""
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARIABLES}
    if policy != UNSET:
        env.update(item.split("=", 1) for item in policy.split(","))
    return env


def start_worker(args, threads: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, str(WORKER), "--threads", str(threads), "--root", str(args.root),
               "--seconds", str(args.seconds), "--chunk-steps", str(args.chunk_steps),
               *(option for override in args.set for option in ("--set", override))]
    return subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def read_line(process: subprocess.Popen) -> str:
    line = process.stdout.readline()
    if not line:
        sys.exit(f"a worker ({' '.join(process.args)}) exited {process.wait()} before reporting")
    return line


def run_scenario(args, scenario: Scenario, policy: str) -> list[dict]:
    """The reports of the scenario's trainings, measured ones first (a competing training last)."""
    env = policy_environment(policy)
    trainings = [start_worker(args, scenario.threads, env) for _ in range(scenario.trainings)]
    if scenario.competitor == "training":
        trainings.append(start_worker(args, args.competitor_threads, env))
    hogs = []
    try:
        for process in trainings:
            read_line(process)  # "ready": data loaded, warmed up
        if scenario.competitor == "hog":
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(args.competitor_threads)]
        for process in trainings:
            process.stdin.write("go\n")
            process.stdin.flush()
        return [json.loads(read_line(process)) for process in trainings]
    finally:
        for process in trainings + hogs:
            process.kill()
            process.wait()


def in_proportion(scenario: Scenario, competitor_threads: int, cores: int) -> float:
    """The slowdown a fair share of the cores would give: alone a training runs on min(threads, cores)
    cores; beside other work, when all the busy threads do not fit, on cores x its threads / busy threads."""
    busy = scenario.threads * scenario.trainings + (competitor_threads if scenario.competitor else 0)
    share = cores * scenario.threads / busy if busy > cores else scenario.threads
    return min(scenario.threads, cores) / share


def summarize(args, runs: dict, cores: int) -> list[dict]:
    """One row per (policy, scenario): median images/s of a measured training, slowdown, CPU use.
    `runs[policy, scenario]` holds the trainings' reports of each repeat."""
    rows = []
    for (policy, scenario), repeats in runs.items():
        measured = [reports[:scenario.trainings] for reports in repeats]  # a competing training's last
        per_training = [statistics.mean(r["images_per_sec"] for r in reports) for reports in measured]
        rows.append({
            "policy": policy, "scenario": scenario.name, "threads": scenario.threads,
            "trainings": scenario.trainings, "competitor": scenario.competitor,
            "images_per_sec": statistics.median(per_training), "all": per_training,
            "images_per_sec_total": statistics.median(sum(r["images_per_sec"] for r in reports)
                                                      for reports in measured),
            "cpu_per_second": statistics.median(statistics.mean(r["cpu_per_second"] for r in reports)
                                                for reports in measured),
            "busy_threads": max(r["busy_threads"] for reports in measured for r in reports),
            "os_threads": max(r["os_threads"] for reports in measured for r in reports),
            "in_proportion": in_proportion(scenario, args.competitor_threads, cores),
        })
    for row in rows:
        alone = next(r for r in rows if r["policy"] == row["policy"] and r["scenario"] == "alone"
                     and r["threads"] == row["threads"])
        row["slowdown"] = alone["images_per_sec"] / row["images_per_sec"]
    return rows


# ----------------------------------------------------------------------------------------------
# OpenMP and report


def openmp() -> dict:
    """The cores this process may use, torch's parallel backend and the OpenMP library it loaded
    (read from this process's memory map after a parallel region)."""
    torch.ones(1000).sum()  # loads the OpenMP runtime if it is not yet
    with open("/proc/self/maps") as f:
        libraries = sorted({Path(line.split()[-1]).name for line in f
                            if any(name in line for name in ("libgomp", "libiomp", "libomp"))})
    backend = [line.split(":")[-1].strip() for line in torch.__config__.parallel_info().splitlines()
               if "parallel backend" in line]
    return {"cores_usable": len(os.sched_getaffinity(0)), "parallel_backend": backend[0] if backend else None,
            "openmp_library": libraries, "interop_threads": torch.get_num_interop_threads()}


def markdown(result: dict) -> str:
    info, args = result["openmp"], result["settings"]
    lines = [
        f"{info['cores_usable']} cores usable; parallel backend {info['parallel_backend']} "
        f"({', '.join(info['openmp_library']) or 'no OpenMP library found'}), {info['interop_threads']} "
        f"inter-op threads. {EXPERIMENT}, batch {args['batch_size']}, {args['seconds']} s windows, median of "
        f"{args['repeats']} interleaved repeats; competitor: {args['competitor_threads']} threads.",
        "",
        "| scenario | threads | wait policy | images/s (per training) | slowdown vs alone | in proportion "
        "| CPU s per s | busy / all threads |",
        "|---|--:|---|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        collapse = " **collapse**" if row["slowdown"] > 2 * row["in_proportion"] else ""
        lines.append(f"| {row['scenario']} | {row['threads']} | {row['policy']} | "
                     f"{row['images_per_sec']:,.0f} | {row['slowdown']:.2f}x{collapse} | "
                     f"{row['in_proportion']:.2f}x | "
                     f"{row['cpu_per_second']:.2f} | {row['busy_threads']} / {row['os_threads']} |")
    lines.append("")
    for policy in args["policies"]:
        rows = {(r["scenario"], r["threads"]): r for r in result["rows"] if r["policy"] == policy}
        pair, alone = rows.get(("two 1-thread trainings", 1)), rows[("alone", 2)]
        if pair:
            total = pair["images_per_sec_total"]
            lines.append(f"- {policy}: two 1-thread trainings together {total:,.0f} images/s, "
                         f"{total / alone['images_per_sec']:.2f}x one 2-thread training alone "
                         f"({alone['images_per_sec']:,.0f}).")
    first = args["policies"][0]
    for policy in args["policies"][1:]:
        for threads in (2, 1):
            quiet = {r["policy"]: r["images_per_sec"] for r in result["rows"]
                     if r["scenario"] == "alone" and r["threads"] == threads}
            lines.append(f"- alone, {threads} thread(s): {policy} runs at "
                         f"{quiet[policy] / quiet[first]:.1%} of {first}.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------


def policy(text: str) -> str:
    """--policies: `unset`, or VARIABLE=VALUE[,VARIABLE=VALUE] of POLICY_VARIABLES."""
    if text != UNSET:
        for item in text.split(","):
            name, equals, value = item.partition("=")
            if name not in POLICY_VARIABLES or not equals or not value:
                raise argparse.ArgumentTypeError(f"{text!r}: give {UNSET} or VARIABLE=VALUE with a variable "
                                                 f"of {', '.join(POLICY_VARIABLES)}")
    return text


def parse_args(argv=None):
    p = harness.parser(__file__, __doc__)
    p.add_argument("--policies", nargs="+", type=policy, default=[UNSET, "OMP_WAIT_POLICY=PASSIVE"],
                   help=f"OpenMP settings to compare ({UNSET}: libgomp's default)")
    p.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS),
                   help="what to run beside a training (alone always runs: the slowdowns are against it)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured window of every training")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats (the median counts)")
    p.add_argument("--chunk-steps", type=int, default=20, help="batches between two looks at the clock")
    p.add_argument("--competitor-threads", type=int, default=2,
                   help="threads of the competing training; processes of the CPU hog")
    p.add_argument("--root", type=Path, help="data root holding mnist/ (default: fetched into a temp folder)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override of lenet5_mnist's recipe, as `cnnlab train --set`")
    p.set_defaults(params=harness.REPO / "params.yaml")
    return harness.parse(p, argv, quick={"scenarios": ["alone", "pair"], "seconds": 0.2, "repeats": 1,
                                         "chunk_steps": 2, "set": ["data.val_size=100"]})


def fetch_mnist(root: Path) -> None:
    subprocess.run([sys.executable, "-m", "cnnlab", "fetch", "mnist", "--root", str(root)], check=True,
                   stdout=subprocess.DEVNULL)


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cnnlab-contention-") as scratch:
        if args.root is None:
            args.root = Path(scratch)
            fetch_mnist(args.root)
        # The policies of one scenario run one after the other: a change in the machine's load hits
        # them alike.
        measures = {(wait, scenario): lambda wait=wait, scenario=scenario: run_scenario(args, scenario, wait)
                    for scenario in chosen_scenarios(args.scenarios) for wait in args.policies}
        runs = harness.interleaved(measures, args.repeats)
    info = openmp()
    cfg = experiment_cfg(args)
    result = {
        "openmp": info,
        "settings": {"policies": args.policies, "scenarios": args.scenarios, "seconds": args.seconds,
                     "repeats": args.repeats, "chunk_steps": args.chunk_steps,
                     "competitor_threads": args.competitor_threads, "batch_size": cfg["batch_size"]},
        "rows": summarize(args, runs, info["cores_usable"]),
        "runs": [{"policy": policy, "scenario": scenario.name, "threads": scenario.threads,
                  "reports": repeats} for (policy, scenario), repeats in runs.items()],
    }
    return harness.publish(args, result, markdown(result))


if __name__ == "__main__":
    sys.exit(main())
