"""How reading and planning grow with the catalog: `cnnlab list`, `snakemake -n all` and `dvc status`
on params.yaml with N extra experiments (variants of lenet5_mnist, a line each), nothing run.

    python benchmarks/catalog_scale.py --sizes 100 500 2000 --json benchmarks/results/catalog-scale-DATE.json

Each project is a fresh folder (git-less DVC) beside the repository's Snakefile, workflow/ and src/.
A catalog over cnnlab's size limit (strict_yaml.MAX_FILE_BYTES) is refused by all three in about a second;
the largest size here stays under it.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from outputs import add_output_options, publish

from cnnlab import config

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMMANDS = {"cnnlab list": ["cnnlab", "list"],
            "snakemake -n all": ["snakemake", "-n", "all", "--cores", "1", "-q"],
            "dvc status": ["dvc", "status", "-q"]}


def make_project(folder: Path, extra: int) -> int:
    """A project in `folder` whose catalog has `extra` more experiments; returns params.yaml's size."""
    params = config.read_params(REPO / "params.yaml")
    params.update(scale="smoke", datasets=["mnist", "fashion_mnist"])
    for i in range(extra):
        params["experiments"][f"v{i}"] = {"base": "lenet5_mnist", "dataset": "mnist"}
    text = yaml.safe_dump(params, sort_keys=False, default_flow_style=None, width=200)
    (folder / "params.yaml").write_text(text)
    for name in ("workflow", "src", "dvc.yaml", "references.yaml"):
        (folder / name).symlink_to(REPO / name)
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=folder, check=True)
    return len(text.encode())


def timed(command: list[str], cwd: Path, timeout: float) -> dict:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "exit": "timeout"}
    return {"seconds": round(time.perf_counter() - started, 2), "exit": done.returncode,
            "last_line": (done.stderr.strip().splitlines() or [""])[-1][:200]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    p.add_argument("--timeout", type=float, default=600, help="seconds a command may take")
    add_output_options(p)
    args = p.parse_args(argv)
    rows = []
    for extra in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            size = make_project(Path(tmp), extra)
            row = {"experiments": extra + len(config.read_params(REPO / "params.yaml")["experiments"]),
                   "bytes": size, "load_average": os.getloadavg()[0]}
            row.update({name: timed(command, Path(tmp), args.timeout) for name, command in COMMANDS.items()})
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    table = ("| experiments | params.yaml | " + " | ".join(COMMANDS) + " |\n"
             "|--:|--:|" + "--:|" * len(COMMANDS) + "\n")
    for row in rows:
        # `dvc status -q` exits 1 when stages are to run (here: all of them), an answer too
        cells = [f"{row[name]['seconds']} s" if row[name]["exit"] in (0, 1) else f"exit {row[name]['exit']}"
                 for name in COMMANDS]
        table += f"| {row['experiments']:,} | {row['bytes'] / 1000:.0f} KB | " + " | ".join(cells) + " |\n"
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    machine = {"cpu": cpu, "cores": os.cpu_count()}
    return publish(args, {"machine": machine, "date": time.strftime("%Y-%m-%d"), "rows": rows}, table)


if __name__ == "__main__":
    raise SystemExit(main())
