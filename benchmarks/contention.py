"""LeNet-5 training beside other CPU work: does it slow down in proportion, or collapse?

    .venv/bin/python benchmarks/contention.py --json benchmarks/results/contention-DATE.json
    .venv/bin/python benchmarks/contention.py --seconds 2 --repeats 1      # a smoke run
    .venv/bin/python benchmarks/contention.py --policies unset OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=10000
    .venv/bin/python benchmarks/contention.py --scenarios alone            # what a policy costs alone

Every training process is a separate `python benchmarks/contention.py --worker` whose environment
(the OpenMP wait policy) is set before it imports torch: libgomp, torch's OpenMP here, reads it once,
when it loads. A worker trains LeNet-5 on real MNIST with the functions `cnnlab train` uses
(`cnnlab.training.engine.set_up_training`, then `cnnlab.training.train.train_one_epoch` over chunks of
`--chunk-steps` batches), warms up, says it is ready, waits until the benchmark says go, and counts
the images of the chunks it finishes within `--seconds`; then it reports and trains on until it is
stopped, so that the processes of one scenario overlap for their whole windows.

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
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from outputs import add_output_options, publish

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "lenet5_mnist"
WARMUP_CHUNKS = 2
# The variables a policy may set; a worker gets none of them unless its policy names it.
POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
UNSET = "unset"  # no variable: libgomp's default (threads spin a while before they sleep)
BUSY = 0.1  # a thread using more than this share of a core during the window counts as busy


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
# The worker: one training process


def worker(args) -> None:
    """Train in chunks; after `go` on stdin, count the images of `args.seconds`, print them as JSON,
    then train on until stopped."""
    import torch  # only now: the parent has set this process's OpenMP environment

    from cnnlab.training import engine
    from cnnlab.training.train import train_one_epoch

    session = engine.set_up_training(experiment_cfg(args.root, args.chunk_steps, args.set), args.threads)
    epoch = 1
    for _ in range(WARMUP_CHUNKS):
        train_one_epoch(session, epoch)
        epoch += 1
    print("ready", flush=True)
    sys.stdin.readline()
    chunk_images = len(session.data.train_y)
    started, cpu_started, images = time.perf_counter(), thread_cpu_seconds(), 0
    while time.perf_counter() - started < args.seconds:
        train_one_epoch(session, epoch)
        epoch, images = epoch + 1, images + chunk_images
    seconds = time.perf_counter() - started
    cpu = {thread: used - cpu_started.get(thread, 0.0) for thread, used in thread_cpu_seconds().items()}
    print(json.dumps({
        "images_per_sec": images / seconds, "images": images, "seconds": seconds,
        "cpu_per_second": sum(cpu.values()) / seconds,  # cores kept busy, spinning included
        "busy_threads": sum(used / seconds > BUSY for used in cpu.values()),
        "os_threads": len(cpu), "torch_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "policy": {name: os.environ.get(name) for name in POLICY_VARIABLES},
    }), flush=True)
    while True:
        train_one_epoch(session, epoch)
        epoch += 1


def experiment_cfg(root: Path, chunk_steps: int, overrides: list[str]) -> dict:
    """lenet5_mnist's recipe (with `--set` overrides), one run, its training set cut to one chunk."""
    from cnnlab import config

    params = config.load_params(REPO / "params.yaml")
    params["data"].update(root=str(root), verify=False)  # a benchmark, not a result
    cfg = config.experiment_config(params, EXPERIMENT, overrides)
    cfg["limit_train"] = chunk_steps * cfg["batch_size"]
    return config.run_config(cfg, cfg["seeds"][0])


def thread_cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) of each thread of this process: the main one, OpenMP's pool, others."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for thread in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{thread}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3
        used[thread] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime: fields 14, 15
    return used


# ----------------------------------------------------------------------------------------------
# The parent: scenarios as processes


def policy_environment(policy: str) -> dict:
    """This process's environment with the policy's variables (and no other of POLICY_VARIABLES)."""
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARIABLES}
    if policy != UNSET:
        env.update(item.split("=", 1) for item in policy.split(","))
    return env


def start_worker(args, threads: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, __file__, "--worker", "--threads", str(threads), "--root", str(args.root),
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
# Machine and report


def machine() -> dict:
    """The CPU, its flags and cores, torch and the OpenMP library it loaded (read from this
    process's memory map after a parallel region)."""
    import torch

    from cnnlab.training import runtime

    torch.ones(1000).sum()  # loads the OpenMP runtime if it is not yet
    with open("/proc/self/maps") as f:
        libraries = sorted({Path(line.split()[-1]).name for line in f
                            if any(name in line for name in ("libgomp", "libiomp", "libomp"))})
    info = runtime.machine()
    backend = [line.split(":")[-1].strip() for line in torch.__config__.parallel_info().splitlines()
               if "parallel backend" in line]
    return {"cpu": info["cpu"], "cpu_flags": info["cpu_flags"], "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "torch": torch.__version__, "parallel_backend": backend[0] if backend else None,
            "openmp_library": libraries, "interop_threads": torch.get_num_interop_threads(),
            "commit": info["commit"], "dirty": info["dirty"]}


def loads(numbers: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in numbers)


def markdown(result: dict) -> str:
    info, load, args = result["machine"], result["load_average"], result["settings"]
    lines = [
        f"Command: `{result['command_line']}`",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores ({info['cores_usable']} usable), flags "
        f"{', '.join(info['cpu_flags'])}; Python {info['python']}, torch {info['torch']}, parallel backend "
        f"{info['parallel_backend']} ({', '.join(info['openmp_library']) or 'no OpenMP library found'}), "
        f"{info['interop_threads']} inter-op threads; load average (1, 5, 15 min) "
        f"{loads(load['before'])} before, {loads(load['after'])} after. {EXPERIMENT}, batch "
        f"{args['batch_size']}, {args['seconds']} s windows, median of "
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
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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
    add_output_options(p)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def fetch_mnist(root: Path) -> None:
    subprocess.run([sys.executable, "-m", "cnnlab", "fetch", "mnist", "--root", str(root)], check=True,
                   stdout=subprocess.DEVNULL)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="cnnlab-contention-") as scratch:
        if args.root is None:
            args.root = Path(scratch)
            fetch_mnist(args.root)
        info, load_before = machine(), os.getloadavg()
        # The policies of one scenario run one after the other: a change in the machine's load hits
        # them alike.
        runs = {(policy, scenario): [] for scenario in chosen_scenarios(args.scenarios)
                for policy in args.policies}
        for repeat in range(args.repeats):
            for (policy, scenario), repeats in runs.items():
                repeats.append(run_scenario(args, scenario, policy))
                rates = ", ".join(f"{r['images_per_sec']:,.0f}" for r in repeats[-1])
                print(f"repeat {repeat + 1}/{args.repeats}  {policy:28s} {scenario.name:24s} "
                      f"{scenario.threads} thread(s): {rates} images/s, load {os.getloadavg()[0]:.2f}",
                      file=sys.stderr)
    cfg = experiment_cfg(args.root, args.chunk_steps, args.set)
    result = {
        "command_line": " ".join(["python", "benchmarks/contention.py", *(argv or sys.argv[1:])]),
        "machine": info,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "settings": {"policies": args.policies, "scenarios": args.scenarios, "seconds": args.seconds,
                     "repeats": args.repeats, "chunk_steps": args.chunk_steps,
                     "competitor_threads": args.competitor_threads, "batch_size": cfg["batch_size"]},
        "rows": summarize(args, runs, info["cores_usable"]),
        "runs": [{"policy": policy, "scenario": scenario.name, "threads": scenario.threads,
                  "reports": repeats} for (policy, scenario), repeats in runs.items()],
    }
    table = markdown(result)
    return publish(args, result, table)


if __name__ == "__main__":
    sys.exit(main())
