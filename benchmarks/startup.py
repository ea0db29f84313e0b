"""What each Snakemake job pays before it does any work: the start of `cnnlab` and its imports.

    python benchmarks/startup.py                          # this checkout's src/
    python benchmarks/startup.py --src before=/tmp/startup-main/src --src after=src   # side by side
    python benchmarks/startup.py --quick                  # a smoke run

Every command runs as a fresh process, `--repeats` times (default 5) after `--warmup` runs that
are not kept, interleaved: each repeat runs every command once with each `--src` (a cnnlab source
folder put first on PYTHONPATH) before the next repeat starts, so a change of the machine's load
hits all of them alike. The table gives
the median and the minimum wall time of each, and the median minus that of `python -c pass` (the
interpreter's own start, with the same PYTHONPATH): the fixed cost a job adds.

The `cnnlab` commands run in a small synthetic project (tests/synthetic.py: 600 MNIST-like training
images, scale=smoke, one experiment's two seeds), one copy per `--src`, first brought up to date
by that source's `cnnlab` (train, evaluate, summarize, plot, report), so that when timed `train`
and `evaluate` find their run current and keep it (nothing to do), and `summarize`, `plot` and
`report` redo their (small) work. `plot` and `report` draw every time: their rows are not all
fixed cost; the `import cnnlab....` rows are. The files under results/ that the timed commands
changed are listed at the end (none should be, but for figures drawn with random jitter).

`python -X importtime` then shows where each command module's import time goes: the packages
outside cnnlab that cnnlab's own modules import, with their cumulative import time (a package a
third-party package pulls in counts towards that one) and the cnnlab module that imports each.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO / "tests"))  # the synthetic project of the tests

EXPERIMENT = "lenet5_mnist"
LIBRARIES = ["torch", "pandas", "matplotlib.pyplot", "seaborn", "scipy.stats"]
# The module each `cnnlab` command imports for its work (cnnlab.cli imports it when the command runs).
COMMAND_MODULES = {
    "train": "cnnlab.training.train",
    "evaluate": "cnnlab.training.evaluate",
    "summarize": "cnnlab.analysis.summary",
    "plot": "cnnlab.reporting.experiment_figures",
    "report": "cnnlab.reporting.report",
}
COMMANDS = {  # a Snakemake job's command line (workflow/rules/*.smk), on the synthetic project
    "train": ["train", EXPERIMENT, "--seed", "0"],
    "evaluate": ["evaluate", EXPERIMENT, "--seed", "0"],
    "summarize": ["summarize", EXPERIMENT],
    "plot": ["plot", EXPERIMENT],
    "report": ["report"],
    # DVC's `runs` stage: every seed of the experiment, each kept
    "train, every seed": ["train", EXPERIMENT],
    "evaluate, every seed": ["evaluate", EXPERIMENT],
}
KEPT = {"train": "already trained", "evaluate": "already evaluated",  # what a run with nothing to do says
        "train, every seed": "already trained", "evaluate, every seed": "already evaluated"}


def cnnlab_executable() -> list[str]:
    """The `cnnlab` console script that Snakemake's jobs run, next to this Python."""
    script = Path(sys.executable).parent / "cnnlab"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cnnlab"]


def timed_commands() -> list[tuple[str, list[str], str | None]]:
    """(row name, command line, text its output must hold) of every command timed."""
    python = [sys.executable, "-c"]
    rows = [("python -c pass", [*python, "pass"], None)]
    rows += [(f"python -c 'import {lib}'", [*python, f"import {lib}"], None) for lib in LIBRARIES]
    rows.append(("cnnlab --help", [*cnnlab_executable(), "--help"], None))
    rows += [(f"python -c 'import {module}'", [*python, f"import {module}"], None)
             for module in COMMAND_MODULES.values()]
    rows += [(f"cnnlab {' '.join(argv)}", [*cnnlab_executable(), *argv], KEPT.get(command))
             for command, argv in COMMANDS.items()]
    return rows


def environment(src: Path) -> dict:
    """The environment of a command run with the cnnlab source `src` first on the path."""
    return dict(os.environ, PYTHONPATH=str(src))


def run(command: list[str], src: Path, cwd: Path, expect: str | None = None) -> float:
    """Run `command`; returns its wall time in seconds. A failure (or a run that did work where it
    should have kept its results) stops the benchmark: its time would measure something else."""
    seconds, done = harness.timed_command(command, cwd=cwd, env=environment(src))
    if done.returncode != 0 or (expect and expect not in done.stdout):
        sys.exit(f"{' '.join(command)} (PYTHONPATH={src}) exited {done.returncode}:\n"
                 f"{done.stdout[-1000:]}{done.stderr[-2000:]}")
    return seconds


# ----------------------------------------------------------------------------------------------
# The synthetic project


def build_projects(folder: Path, sources: dict[str, Path]) -> dict[str, Path]:
    """One synthetic project per source, each run through the pipeline by that source's cnnlab."""
    from synthetic import mnist_project

    template = mnist_project(folder / "template", n_train=600, n_test=200, scale="smoke",
                             datasets=["mnist"])
    shutil.copy(harness.REPO / "references.yaml", template)  # `cnnlab report` reads it from the project's top
    projects = {}
    for label, src in sources.items():
        project = folder / label
        shutil.copytree(template, project, symlinks=True)
        params = project / "params.yaml"
        params.write_text(params.read_text().replace(str(template), str(project)))
        for argv in (["train", EXPERIMENT], ["evaluate", EXPERIMENT], COMMANDS["summarize"], COMMANDS["plot"],
                     COMMANDS["report"]):
            run([*cnnlab_executable(), *argv], src, project)
        projects[label] = project
    return projects


def results_digests(project: Path) -> dict[str, str]:
    """The SHA-256 of every file under the project's results/."""
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((project / "results").rglob("*")) if path.is_file()}


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


# ----------------------------------------------------------------------------------------------
# Where the import time goes


def parse_importtime(stderr: str) -> list[tuple[int, str, float, list]]:
    """`python -X importtime`'s lines as a tree: (depth, module, cumulative seconds, children)."""
    roots, pending = [], []  # the lines come children first, each below its parent's
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        children = [node for node in pending if node[0] == depth + 1]
        pending = [node for node in pending if node[0] <= depth]
        node = (depth, name.strip(), int(cumulative) / 1e6, children)
        (roots if depth == 0 else pending).append(node)
    return roots


def packages_imported(module: str, src: Path) -> list[dict]:
    """The packages outside cnnlab that importing `module` imports from cnnlab's own modules, by
    cumulative import time, with the cnnlab module that imports each (first)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          env=environment(src), capture_output=True, text=True, check=True)
    found: dict[str, dict] = {}

    def visit(node, importer):
        _, name, seconds, children = node
        top = name.split(".")[0]
        if top == "cnnlab":
            for child in children:
                visit(child, name)
        elif top not in sys.stdlib_module_names:
            package = found.setdefault(top, {"package": top, "seconds": 0.0, "via": importer})
            package["seconds"] += seconds

    for root in parse_importtime(done.stderr):
        if root[1].split(".")[0] == "cnnlab":
            visit(root, None)
    return sorted(found.values(), key=lambda p: -p["seconds"])


# ----------------------------------------------------------------------------------------------
# Report


def markdown(result: dict, top: int) -> str:
    labels = list(result["sources"])
    lines = [
        f"{result['repeats']} repeats, interleaved, after {result['warmup']} not kept.",
        "",
        "| command | " + " | ".join(f"{label}: median (min) s" for label in labels) + " | "
        + " | ".join(f"{label}: above `python -c pass`" for label in labels) + " |",
        "|---|" + "--:|" * (2 * len(labels)),
    ]
    interpreter = {label: result["rows"][0]["times"][label]["median"] for label in labels}
    for row in result["rows"]:
        times = row["times"]
        cells = [f"{times[label]['median']:.2f} ({times[label]['min']:.2f})" for label in labels]
        above = [f"{times[label]['median'] - interpreter[label]:+.2f}" for label in labels]
        lines.append(f"| `{row['name']}` | " + " | ".join(cells + above) + " |")
    for label in labels:
        lines += ["", f"Imports of each command's module ({label}; `python -X importtime`, cumulative s, "
                      "packages outside cnnlab, the cnnlab module importing each):", ""]
        for module, packages in result["importtime"][label].items():
            shown = ", ".join(f"{p['package']} {p['seconds']:.2f} ({p['via']})" for p in packages[:top])
            lines.append(f"- `{module}`: {shown}")
    for label, changed in result["changed_files"].items():
        lines += ["", f"Files under results/ that the timed commands changed ({label}): "
                      f"{', '.join(changed) or 'none'}."]
    return "\n".join(lines)


def source(text: str) -> tuple[str, Path]:
    """--src LABEL=PATH (or PATH, labelled by its folder)."""
    label, _, path = text.rpartition("=")
    path = Path(path).resolve()
    if not (path / "cnnlab" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(f"{path} holds no cnnlab package (cnnlab/__init__.py)")
    return label or path.parent.name, path


def parse_args(argv=None):
    p = harness.parser(__file__, __doc__)
    p.add_argument("--src", type=source, action="append", metavar="[LABEL=]PATH",
                   help="a cnnlab source folder to time (repeat to compare; default: this checkout's src)")
    p.add_argument("--repeats", type=int, default=5, help="runs of every command (median and min count)")
    p.add_argument("--warmup", type=int, default=0, help="runs of every command before those, not kept")
    p.add_argument("--top", type=int, default=6, help="packages shown per module (importtime)")
    p.add_argument("--workdir", type=Path, help="where the synthetic projects go (default: a temporary "
                                                 "folder, removed at the end)")
    return harness.parse(p, argv, quick={"repeats": 1})


def main(argv=None) -> int:
    args = parse_args(argv)
    sources = dict(args.src or [source(f"this={harness.REPO / 'src'}")])
    with tempfile.TemporaryDirectory(prefix="cnnlab-startup-") as scratch:
        workdir = args.workdir or Path(scratch)
        projects = build_projects(workdir, sources)
        digests = {label: results_digests(project) for label, project in projects.items()}
        commands = timed_commands()
        times = harness.interleaved(
            {(name, label): lambda command=command, expect=expect, src=src, label=label:
             run(command, src, projects[label], expect)
             for name, command, expect in commands for label, src in sources.items()},
            args.repeats, args.warmup)
        changed = {label: changed_files(digests[label], results_digests(project))
                   for label, project in projects.items()}
        importtime = {label: {module: packages_imported(module, src) for module in COMMAND_MODULES.values()}
                      for label, src in sources.items()}
    result = {
        "repeats": args.repeats,
        "warmup": args.warmup,
        "sources": {label: str(src) for label, src in sources.items()},
        "rows": [{"name": name, "command": command,
                  "times": {label: harness.spread(times[name, label]) for label in sources}}
                 for name, command, _ in commands],
        "importtime": importtime,
        "changed_files": changed,
    }
    return harness.publish(args, result, markdown(result, args.top))


if __name__ == "__main__":
    sys.exit(main())
