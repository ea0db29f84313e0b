"""How reading and planning grow with the catalog: `cnnlab list`, `snakemake -n all` and `dvc status`
on params.yaml with N extra experiments (variants of lenet5_mnist, a line each), nothing run.

    python benchmarks/catalog_scale.py --sizes 100 500 2000
    python benchmarks/catalog_scale.py --project PROJECT --repeats 3   # a study's own folder as it is
    python benchmarks/catalog_scale.py --quick                          # a smoke run

Each generated project is a fresh folder (git-less DVC) beside the repository's Snakefile,
workflow/ and src/. A catalog over cnnlab's size limit (strict_yaml.MAX_FILE_BYTES) is refused by
all three in about a second; the largest size here stays under it. `--project` times the same
commands in an existing project instead (the pipeline's overhead on a study brought up to date).
Every command runs `--repeats` times, interleaved, after `--warmup` runs that are not kept.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import harness
import yaml

from cnnlab import config
from cnnlab.training import runtime

BIN = Path(sys.executable).parent
COMMANDS = {"cnnlab list": ["cnnlab", "list"],
            "snakemake -n all": ["snakemake", "-n", "all", "--cores", "1", "-q"],
            "dvc status": ["dvc", "status", "-q"]}
EXIT_ANSWERS = (0, 1)  # `dvc status -q` exits 1 when stages are to run, an answer too


def make_project(folder: Path, extra: int) -> None:
    """A project in `folder` whose catalog has `extra` more experiments."""
    params = config.read_params(harness.REPO / "params.yaml")
    params.update(scale="smoke", datasets=["mnist", "fashion_mnist"])
    for i in range(extra):
        params["experiments"][f"v{i}"] = {"base": "lenet5_mnist", "dataset": "mnist"}
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=None,
                                                       width=200))
    for name in ("workflow", "src", "dvc.yaml", "references.yaml"):
        (folder / name).symlink_to(harness.REPO / name)
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=folder, check=True)


def measure(args, project: Path) -> dict:
    """One row: the catalog's size and each command's times (or how it failed)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "PYTHONPATH": str(harness.REPO / "src")}
    ends = {}

    def run(name):
        try:
            seconds, ends[name] = harness.timed_command(COMMANDS[name], cwd=project, env=env,
                                                        timeout=args.timeout)
        except subprocess.TimeoutExpired:
            ends[name] = None
            return float("inf")
        return round(seconds, 2)

    times = harness.interleaved({name: lambda name=name: run(name) for name in COMMANDS}, args.repeats,
                                args.warmup)
    row = {"experiments": len(config.read_params(project / "params.yaml")["experiments"]),
           "bytes": (project / "params.yaml").stat().st_size, "load_average": runtime.load_average()}
    for name, done in ends.items():
        row[name] = {"exit": "timeout"} if float("inf") in times[name] else {
            **harness.spread(times[name]), "exit": done.returncode,
            "last_line": (done.stderr.strip().splitlines() or [""])[-1][:200]}
    return row


def markdown(rows: list[dict]) -> str:
    table = ("| experiments | params.yaml | " + " | ".join(f"{name} (median)" for name in COMMANDS) + " |\n"
             "|--:|--:|" + "--:|" * len(COMMANDS) + "\n")
    for row in rows:
        cells = [f"{row[name]['median']} s" if row[name]["exit"] in EXIT_ANSWERS
                 else f"exit {row[name]['exit']}" for name in COMMANDS]
        table += f"| {row['experiments']:,} | {row['bytes'] / 1000:.0f} KB | " + " | ".join(cells) + " |\n"
    return table


def main(argv=None) -> int:
    p = harness.parser(__file__, __doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000], help="experiments added")
    p.add_argument("--project", type=Path, help="time the commands in this project folder instead")
    p.add_argument("--repeats", type=int, default=1, help="runs of each command kept (min, median, max)")
    p.add_argument("--warmup", type=int, default=0, help="runs of each command before those")
    p.add_argument("--timeout", type=float, default=600, help="seconds a command may take")
    args = harness.parse(p, argv, quick={"sizes": [10], "timeout": 120})
    if args.project:
        rows = [{"project": str(args.project.resolve()), **measure(args, args.project.resolve())}]
    else:
        rows = []
        for extra in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                make_project(Path(tmp), extra)
                rows.append(measure(args, Path(tmp)))
    return harness.publish(args, {"rows": rows}, markdown(rows))


if __name__ == "__main__":
    raise SystemExit(main())
