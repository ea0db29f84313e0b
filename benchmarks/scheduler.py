"""Snakemake's own overhead: the CPU time of the `snakemake` process itself on a study of many jobs.

    python benchmarks/scheduler.py                                  # every variant, 10 seeds
    python benchmarks/scheduler.py --experiments 6 --seeds 8 --variants plain profile
    python benchmarks/scheduler.py --cprofile plain                 # + where plain's CPU goes
    python benchmarks/scheduler.py --quick                          # a smoke run (a minute or two)

A synthetic copy of the project (tests/synthetic.py: 800 MNIST- and Fashion-MNIST-like training
images, scale=smoke, so that each job takes a few seconds) with the catalog's MNIST and
Fashion-MNIST experiments (`--experiments N`: the first N, without the lab's questions) and
`--seeds` seeds each is built once; then, for each variant, a fresh copy of it runs
`snakemake all --cores 2 --set-threads train=1 evaluate=1` (the study's last real run) plus the
variant's options to the end. Measured per variant:

- Snakemake's own CPU: user + system time of the `snakemake` process alone (all its threads),
  sampled every 0.05 s with psutil; the last sample before it exits counts. The jobs are its
  children (bash, then cnnlab and tee) and are not in it.
- CBC: the ILP scheduler's solver runs as a child process of Snakemake (`cbc`), so it is not in
  Snakemake's own time; it counts as Snakemake's. To measure each solve, the ILP variants name the
  solver COIN_CMD (PuLP's CBC, found on the PATH: the same program that Snakemake's default,
  PULP_CBC_CMD, runs from inside PuLP) and put a small wrapper first on the PATH that runs PuLP's
  CBC and records its user + system time (os.wait4).
- everything: user + system time of Snakemake and all its descendants (RUSAGE_CHILDREN of this
  process), and the wall time.

Every variant must build the same results: the benchmark compares the set of files under results/
and the digests of each run's model.pt and predictions.csv with the first variant's.

`--cprofile VARIANT` runs that variant once more under `python -m cProfile` and prints Snakemake's
functions by cumulative time (the profiler slows it down: its totals are not comparable).
"""

import hashlib
import io
import os
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

import harness
import psutil
import yaml

sys.path.insert(0, str(harness.REPO / "tests"))  # the synthetic data of the tests

DATASETS = ["mnist", "fashion_mnist"]
# The study's last real run (docs/performance.md, "Small models cannot use a core"): two one-thread
# jobs side by side.
SNAKEMAKE_ALL = ["all", "--cores", "2", "--set-threads", "train=1", "evaluate=1"]
# name: the options added to SNAKEMAKE_ALL. `profile` is what `make study` passes.
VARIANTS = {
    "plain": [],  # Snakemake's defaults: ILP scheduler (CBC), at most 100 jobs started a second
    "greedy": ["--scheduler", "greedy"],
    "printshellcmds": ["--printshellcmds"],
    "no-rerun-triggers": ["--rerun-triggers", "mtime"],  # Snakemake's default is all five triggers
    "timespan-10s": ["--max-jobs-per-timespan", "1000/10s"],
    "timespan-10s-greedy": ["--max-jobs-per-timespan", "1000/10s", "--scheduler", "greedy"],
    "profile": ["--workflow-profile", "workflow/profiles/default"],
}
POLL_SECONDS = 0.05
# The wrapper that stands for `cbc` on the PATH: runs PuLP's CBC, appends its CPU seconds to a file.
SOLVER_WRAPPER = """#!{python} -S
import os, sys
pid = os.spawnv(os.P_NOWAIT, {cbc!r}, [{cbc!r}, *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
with open({log!r}, "a") as log:
    log.write(f"{{usage.ru_utime + usage.ru_stime}}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""
DETERMINISTIC_FILES = ["model.pt", "predictions.csv"]  # a run's files that hold no times


def snakemake_command() -> list[str]:
    """The `snakemake` next to this Python (the project's .venv)."""
    script = Path(sys.executable).parent / "snakemake"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "snakemake"]


# ----------------------------------------------------------------------------------------------
# The synthetic project


def build_template(folder: Path, seeds: int, experiments: int | None) -> Path:
    """A copy of the project in `folder` with synthetic data, `seeds` seeds at smoke scale, and the
    MNIST and Fashion-MNIST experiments (the first `experiments` of them, if given), as the tests
    make one (tests/test_pipeline.py)."""
    from cnnlab import config
    from synthetic import write_mirror
    from test_pipeline import make_project

    kept = None
    if experiments is not None:
        catalog = config.read_params(harness.REPO / "params.yaml")["experiments"]
        kept = [name for name, spec in catalog.items()
                if spec.get("dataset") in DATASETS and "base" not in spec][:experiments]
    template = make_project(folder / "template", kept)  # the runs copy it to folder/project
    write_mirror(folder / "mirror", datasets=DATASETS, n_train=800, n_test=300)
    params = config.read_params(template / "params.yaml")
    params["datasets"] = DATASETS
    params["scales"]["smoke"]["seeds"] = list(range(seeds))
    (template / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return template


def environment(folder: Path, project: Path, solver: Path) -> dict:
    """The jobs' environment: this Python's tools, the project's source, the synthetic data, and
    the solver's wrapper first on the PATH."""
    path = os.pathsep.join([str(solver), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, PYTHONPATH=str(project / "src"),
                CNNLAB_DATA_MIRROR=str(folder / "mirror"), TORCH_HOME=str(folder / "torch"))


def solver_wrapper(folder: Path) -> Path:
    """`folder`/solver/cbc, the wrapper of PuLP's CBC that records each solve's CPU time in
    `folder`/solver/cpu_seconds.txt; returns the folder."""
    import pulp

    solver = folder / "solver"
    solver.mkdir(parents=True, exist_ok=True)
    wrapper = solver / "cbc"
    wrapper.write_text(SOLVER_WRAPPER.format(python=sys.executable, cbc=pulp.apis.PULP_CBC_CMD.pulp_cbc_path,
                                             log=str(solver / "cpu_seconds.txt")))
    wrapper.chmod(0o755)
    return solver


def uses_ilp(options: list[str]) -> bool:
    return "greedy" not in options


def fresh_copy(template: Path, project: Path) -> Path:
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(template, project, symlinks=True)
    return project


def results_fingerprint(project: Path) -> dict[str, str]:
    """Every file under results/, with the digest of those that hold no times (else "")."""
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            if path.name in DETERMINISTIC_FILES else ""
            for path in sorted((project / "results").rglob("*")) if path.is_file()}


# ----------------------------------------------------------------------------------------------
# One run


def run_snakemake(command: list[str], project: Path, env: dict, solver: Path) -> dict:
    """Run `command` in `project` to its end; its wall time, its own CPU time, CBC's, and the CPU
    time of it and all its descendants."""
    solves = solver / "cpu_seconds.txt"
    solves.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = psutil.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    output = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()))
    reader.start()
    own = None
    while process.poll() is None:
        try:
            own = process.cpu_times()
        except psutil.Error:  # it ended between the poll and the reading
            pass
        time.sleep(POLL_SECONDS)
    reader.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = output[0]
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {process.returncode}:\n{text[-4000:]}")
    solver_seconds = [float(line) for line in solves.read_text().split()] if solves.is_file() else []
    return {
        "wall_s": wall,
        "snakemake_cpu_s": own.user + own.system,
        "cbc_cpu_s": sum(solver_seconds),
        "cbc_solves": len(solver_seconds),
        "everything_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "jobs": len(re.findall(r"^Finished jobid", text, flags=re.MULTILINE)),
    }


def snakemake_options(name: str) -> list[str]:
    """The variant's options after SNAKEMAKE_ALL; the ILP's solver through the wrapper."""
    options = VARIANTS[name]
    return [*SNAKEMAKE_ALL, *options, *(["--scheduler-ilp-solver", "COIN_CMD"] if uses_ilp(options) else [])]


def run_variant(name: str, template: Path, folder: Path) -> tuple[dict, dict]:
    project = fresh_copy(template, folder / "project")
    solver = solver_wrapper(folder)
    measured = run_snakemake([*snakemake_command(), *snakemake_options(name)], project,
                             environment(folder, project, solver), solver)
    return measured, results_fingerprint(project)


def cprofile_variant(name: str, template: Path, folder: Path, out: Path, top: int) -> str:
    """`name` once more under cProfile; Snakemake's and cnnlab's functions by cumulative time."""
    project = fresh_copy(template, folder / "project")
    solver = solver_wrapper(folder)
    command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "snakemake", *snakemake_options(name)]
    run_snakemake(command, project, environment(folder, project, solver), solver)
    stats = pstats.Stats(str(out), stream=(listing := io.StringIO()))
    ours = r"snakemake/(scheduling|dag|jobs|persistence|io)|cnnlab|\.smk"  # not asyncio's or threading's
    stats.sort_stats("cumulative").print_stats(ours, top)
    return listing.getvalue()


# ----------------------------------------------------------------------------------------------
# Report


def markdown(result: dict) -> str:
    versions = result["versions"]
    lines = [
        f"Snakemake {versions['snakemake']}, PuLP {versions['pulp']}. Study: {result['experiments']} "
        f"experiments x {result['seeds']} seeds, smoke scale, `snakemake {' '.join(SNAKEMAKE_ALL)}` "
        "+ the variant's options.",
        "",
        "| variant | options | jobs | wall s | Snakemake CPU s | + CBC CPU s (solves) | per job s "
        "| everything CPU s | Snakemake's share |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, row in result["variants"].items():
        total = row["snakemake_cpu_s"] + row["cbc_cpu_s"]  # CBC works for Snakemake
        lines.append(
            f"| {name} | `{' '.join(VARIANTS[name]) or '(none)'}` | {row['jobs']} | {row['wall_s']:.1f} | "
            f"{row['snakemake_cpu_s']:.1f} | {row['cbc_cpu_s']:.2f} ({row['cbc_solves']}) | "
            f"{total / max(row['jobs'], 1):.3f} | {row['everything_cpu_s']:.1f} | "
            f"{total / row['everything_cpu_s']:.0%} |")
    differing = result["results_differ_from_first"]
    differing = ", ".join(f"{name}: {files}" for name, files in differing.items() if files) or "none"
    lines += ["", "Results (files under results/, each run's model.pt and predictions.csv) that differ from "
                  f"the first variant's: {differing}."]
    if result.get("cprofile"):
        lines += ["", f"cProfile of `{result['cprofile']['variant']}`:", "", "```",
                  result["cprofile"]["listing"].strip(), "```"]
    return "\n".join(lines)


def parse_args(argv=None):
    p = harness.parser(__file__, __doc__)
    p.add_argument("--seeds", type=int, default=10, help="seeds per experiment (default 10)")
    p.add_argument("--experiments", type=int, help="the first N MNIST/Fashion-MNIST experiments, "
                                                    "without the questions (default: all, with them)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                   help="the settings to compare (default: all)")
    p.add_argument("--cprofile", choices=list(VARIANTS), help="profile this variant once more")
    p.add_argument("--top", type=int, default=25, help="functions listed from the profile")
    p.add_argument("--workdir", type=Path, help="where the projects go (default: a temporary folder, "
                                                 "removed at the end)")
    return harness.parse(p, argv, quick={"seeds": 2, "experiments": 2, "variants": ["plain", "profile"]})


def main(argv=None) -> int:
    args = parse_args(argv)
    variants, fingerprints = {}, {}
    with tempfile.TemporaryDirectory(prefix="cnnlab-scheduler-") as scratch:
        folder = args.workdir or Path(scratch)
        template = build_template(folder, args.seeds, args.experiments)
        experiments = len(yaml.safe_load((template / "params.yaml").read_text())["experiments"])
        for name in args.variants:
            print(f"{name}: load {os.getloadavg()[0]:.2f}", file=sys.stderr)
            variants[name], fingerprints[name] = run_variant(name, template, folder)
            print(f"{name}: {variants[name]}", file=sys.stderr)
        profiled = None
        if args.cprofile:
            out = folder / f"scheduler-{args.cprofile}.prof"  # in the work folder: its listing is kept
            profiled = {"variant": args.cprofile,
                        "listing": cprofile_variant(args.cprofile, template, folder, out, args.top)}
    first = fingerprints[args.variants[0]]
    result = {
        "versions": {name: metadata.version(name) for name in ("snakemake", "pulp")},
        "experiments": experiments,
        "seeds": args.seeds,
        "variants": variants,
        "results_differ_from_first": {name: sorted(k for k in first.keys() | prints.keys()
                                                   if first.get(k) != prints.get(k))
                                      for name, prints in fingerprints.items()},
        "cprofile": profiled,
    }
    return harness.publish(args, result, markdown(result))


if __name__ == "__main__":
    sys.exit(main())
