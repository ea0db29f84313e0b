"""Accuracy parity of bf16 autocast and fp32: full recipes, several seeds, through `cnnlab` itself.

    python benchmarks/parity.py                        # 2 experiments x 2 precisions x 3 seeds
    python benchmarks/parity.py --jobs 2 --threads 1   # two runs at a time, a core each
    python benchmarks/parity.py --quick                # a smoke run: tiny runs, the docs untouched

Each run is `cnnlab train EXP --seed S --set seeds=[S] --set precision=P` then `cnnlab evaluate`,
into RUNS/EXP-P/runs/seedS/ (a run whose metrics.json exists is not repeated; an interrupted one resumes
from its last.pt). The table of mean test accuracy (the validation-selected checkpoint, as the
study reports it) goes into docs/performance.md between the parity markers; the runs' rows into the
result file (and a CSV with --csv).
"""

import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import harness

from cnnlab.analysis.statistics import describe, paired

EXPERIMENTS = ["lenet5_mnist", "lenet_sigmoid_fashionmnist"]
PRECISIONS = ["fp32", "bf16"]
BEGIN, END = "<!-- parity:begin -->", "<!-- parity:end -->"
QUICK = {"experiments": EXPERIMENTS[:1], "seeds": [0], "doc": "", "set": [
    "epochs=1", "limit_train=128", "limit_test=64", "data.val_size=64"]}


def run_one(args, experiment: str, precision: str, seed: int) -> dict:
    experiment_dir = args.runs / f"{experiment}-{precision}"
    out = experiment_dir / "runs" / f"seed{seed}"
    base = [sys.executable, "-m", "cnnlab", "--params", str(args.params)]
    sets = ["--seed", str(seed), "--set", f"seeds=[{seed}]", "--set", f"precision={precision}"]
    sets += sum((["--set", s] for s in args.set), [])
    if args.root:
        sets += ["--set", f"data.root={args.root}"]
    threads = ["--threads", str(args.threads)] if args.threads else []
    if not (out / "metrics.json").is_file():
        resume = ["--resume"] if (out / "last.pt").is_file() and not (out / "train.json").is_file() else []
        for command, extra in (("train", resume), ("evaluate", [])):
            result = subprocess.run([*base, command, experiment, *sets, "--out", str(experiment_dir),
                                     *threads, *extra], capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"{experiment} {precision} seed {seed}: cnnlab {command} failed:\n"
                                 f"{result.stderr}")
    metrics = json.loads((out / "metrics.json").read_text())
    trained = json.loads((out / "train.json").read_text())
    row = {"experiment": experiment, "precision": trained["precision"], "seed": seed,
           "test_acc": metrics["test_acc"], "val_acc": metrics["val_acc"],
           "best_epoch": metrics["best_epoch"],
           "epochs": trained["epochs"], "wall_seconds": round(trained["wall_seconds"], 1),
           "images_per_sec": round(trained["images_per_sec"])}
    print(f"  {experiment:28s} {precision} seed {seed}: test {row['test_acc']:.4f} "
          f"({row['wall_seconds']:.0f} s)", file=sys.stderr)
    return row


def table(rows: list[dict], seeds: list[int]) -> str:
    """bf16 against fp32 per experiment, paired seed by seed (cnnlab.analysis.statistics)."""
    lines = [f"| experiment | fp32 test acc (mean ± sd of {len(seeds)} seeds) | bf16 test acc | "
             "bf16 − fp32, paired (points) | 95 % interval | fp32 runs | bf16 runs |",
             "|---|--:|--:|--:|---|---|---|"]
    for experiment in dict.fromkeys(r["experiment"] for r in rows):
        acc = {p: {r["seed"]: 100 * r["test_acc"] for r in rows
                   if r["experiment"] == experiment and r["precision"] == p} for p in PRECISIONS}
        if not all(acc.values()):
            continue
        shown = {p: describe(list(v.values())) for p, v in acc.items()}
        diff = paired(acc["bf16"], acc["fp32"])
        spread = ("one seed: none" if diff["ci_low"] is None else
                  f"[{diff['ci_low']:+.2f}, {diff['ci_high']:+.2f}]"
                  + (" (within the noise)" if diff["ci_low"] <= 0 <= diff["ci_high"] else ""))
        runs = {p: ", ".join(f"{a:.2f}" for a in v.values()) for p, v in acc.items()}
        lines.append(f"| {experiment} | {mean_sd(shown['fp32'])} | {mean_sd(shown['bf16'])} | "
                     f"{diff['mean_diff']:+.2f} | {spread} | {runs['fp32']} | {runs['bf16']} |")
    return "\n".join(lines) + "\n"


def mean_sd(stats: dict) -> str:
    return f"{stats['mean']:.2f}" + ("" if stats["sd"] is None else f" ± {stats['sd']:.2f}")


def write_into(doc: Path, text: str) -> None:
    """Replace what stands between the parity markers of `doc` (append them when missing)."""
    old = doc.read_text() if doc.is_file() else ""
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    doc.write_text(new)


def main(argv=None) -> int:
    p = harness.parser(__file__, __doc__)
    harness.study_options(p, EXPERIMENTS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--runs", type=Path, help="where the runs go (default: benchmarks/runs/parity; "
                                             "a temporary folder with --quick)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time")
    p.add_argument("--csv", type=Path, help="write the runs' rows here too")
    p.add_argument("--doc", type=Path, default=harness.REPO / "docs" / "performance.md",
                   help="markdown file whose parity block gets the table ('' = none)")
    args = harness.parse(p, argv, quick=QUICK)

    todo = [(e, pr, s) for e in args.experiments for s in args.seeds for pr in PRECISIONS]
    with tempfile.TemporaryDirectory(prefix="cnnlab-parity-") as scratch:
        kept = harness.REPO / "benchmarks" / "runs" / "parity"
        args.runs = args.runs or (Path(scratch) if args.quick else kept)
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda job: run_one(args, *job), todo))
    if args.csv:
        columns = list(rows[0])
        args.csv.write_text(",".join(columns) + "\n" + "".join(
            ",".join(str(r[c]) for c in columns) + "\n" for r in rows))
    text = table(rows, args.seeds)
    if str(args.doc) not in ("", "."):
        write_into(args.doc, text)
    return harness.publish(args, {"rows": rows}, text)


if __name__ == "__main__":
    sys.exit(main())
