"""The study on one GPU, in one call: each model's training rate and memory in fp32 and bf16, bf16's
accuracy against fp32 on real MNIST, two identical runs compared byte for byte, and the estimated
time of every experiment of the study at its full recipe. Writes device-check.json and
device-check.md under --out. Without CUDA it runs on the CPU at the tiny --quick size (the tests).

    PYTHONPATH=src python benchmarks/device_check.py --mnist ../shared/datasets/mnist --out OUT

The lent GPU (docs/performance.md, "On a GPU") has no jsonschema (cnnlab.config's) and sees only
the repository: first, here, in the repository's root (benchmarks/runs/ is ignored by git):

    mkdir -p benchmarks/runs/device/mnist && cp ../shared/datasets/mnist/*.xz benchmarks/runs/device/mnist/
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \\
        -d benchmarks/runs/device/wheels jsonschema jsonschema-specifications referencing rpds-py

then one call of the device tool (estimated 5-6 min on an H100; no rate is measured after --minutes):

    run(timeout_s=600, carry=["benchmarks/runs/device"], command="python3 -m pip install -q --no-index
        --no-deps --target /tmp/site benchmarks/runs/device/wheels/*.whl && PYTHONUNBUFFERED=1
        PYTHONPATH=src:/tmp/site python3 benchmarks/device_check.py --mnist benchmarks/runs/device/mnist
        --out $OUT")

CIFAR-10 is synthetic (tests/synthetic.py's, 50,000 + 10,000 images in the real pickle layout),
Fashion-MNIST random images (bench.study_data): a step's speed does not depend on the pixels. The
machine record and the files' heading are benchmarks/harness.py's.
Rates are at the study's settings (deterministic, so no cuDNN autotuning; else --set deterministic=false).
"""

import sys
import tempfile
import time
from pathlib import Path

import harness
import torch
from bench import cnnlab_loop, study_data
from parity import table as parity_table

from cnnlab import config
from cnnlab.data.fetch import fetch
from cnnlab.errors import CnnlabError
from cnnlab.pipeline.calibrate import split_sizes
from cnnlab.results.kept import file_sha256
from cnnlab.results.records import first_line
from cnnlab.training import runtime
from cnnlab.training.evaluate import evaluate
from cnnlab.training.train import train

sys.path.insert(0, str(harness.REPO / "tests"))
from synthetic import write_mirror  # noqa: E402  (the CIFAR-10 writer the tests use)

COMPARED_FILES = ("model.pt", "metrics.json", "predictions.csv")  # no times in them
# Issue 24's targets, in seconds: this experiment's seed on one H100, and the study at five seeds.
LONG_TARGET, STUDY_TARGET = ("resnet18_cifar10_long", 600), 3600
# Sizes: full on a GPU; quick for the CPU (the suite). Each measurement trains at least `images`
# images (fewer where the training set is smaller), after bench's warm-up steps.
SIZES = {
    False: dict(cifar=(50_000, 10_000), images=16_384, min_steps=30, eval_images=4096, parity_epochs=3,
                seeds=[0, 1], limits=[], matmul=(8192, 1.0), repeat=("resnet18_cifar10", "4096")),
    True: dict(cifar=(600, 200), images=128, min_steps=2, eval_images=64, parity_epochs=1, seeds=[0],
               limits=["limit_train=256", "limit_test=100", "data.val_size=100"], matmul=(256, 0.1),
               repeat=("convnet_cifar10", "128")),
}


def parse_args(argv=None):
    p = harness.parser(__file__, __doc__, result_file=False)
    harness.study_options(p, experiments=[])
    p.add_argument("--steps", type=int, help="timed batches per experiment (default: from the sizes)")
    p.add_argument("--mnist", type=Path, required=True, help="folder of the four MNIST IDX files (.xz/.gz)")
    p.add_argument("--out", type=Path, required=True, help="where device-check.json and .md go")
    p.add_argument("--minutes", type=float, default=7.5, help="start no rate measurement after this")
    args = harness.parse(p, argv)
    args.quick = args.quick or not torch.cuda.is_available()  # tiny sizes: the default without CUDA
    args.set = ["pretrained=false", *args.set]  # E8's ImageNet weights: no download there; the same speed
    args.json, args.markdown = args.out / "device-check.json", args.out / "device-check.md"
    return args


def fetch_data(args, work: Path) -> Path:
    """A data root with the real MNIST files and synthetic CIFAR-10, fetched as `cnnlab fetch` does."""
    if not args.mnist.is_dir():
        raise CnnlabError(f"--mnist {args.mnist}: not a folder; give the folder of MNIST's IDX files")
    mirror = work / "mirror"
    mirror.mkdir()
    (mirror / "mnist").symlink_to(args.mnist.resolve())
    write_mirror(mirror, datasets=("cifar10",), n_train=SIZES[args.quick]["cifar"][0],
                 n_test=SIZES[args.quick]["cifar"][1], cifar_layout="dir")
    for name in ("mnist", "cifar10"):
        fetch(name, work / "raw", mirror=mirror, verify=False)
    return work / "raw"


def trained(args, name: str, folder: Path, *sets: str) -> dict:
    """`cnnlab train` and `cnnlab evaluate` of one run, in this process; its metrics.json."""
    cfg = harness.run_config(args, name, *SIZES[args.quick]["limits"], *sets)
    train(cfg, folder, threads=args.threads)
    return evaluate(cfg, folder, threads=args.threads)


def parity(args, work: Path) -> list[dict]:
    size, rows = SIZES[args.quick], []
    for seed in size["seeds"]:
        for precision in ("fp32", "bf16"):
            metrics = trained(args, "lenet5_mnist", work / f"parity-{precision}-{seed}",
                              f"seeds=[{seed}]", f"precision={precision}", f"epochs={size['parity_epochs']}")
            rows.append({"experiment": "lenet5_mnist", "precision": precision, "seed": seed,
                         "test_acc": metrics["test_acc"]})
    return rows


def determinism(args, work: Path) -> list[dict]:
    """Each case trained and evaluated twice, the same way: are the files the same bytes?"""
    size, results = SIZES[args.quick], []
    cases = [("lenet5_mnist", "fp32", [f"epochs={size['parity_epochs']}"]),
             (size["repeat"][0], "bf16", ["epochs=1", f"limit_train={size['repeat'][1]}", "limit_test=1000"])]
    for name, precision, sets in cases:
        digests = []
        for copy in ("a", "b"):
            folder = work / f"repeat-{name}-{copy}"
            trained(args, name, folder, f"precision={precision}", *sets)
            digests.append({file: file_sha256(folder / file) for file in COMPARED_FILES})
        differing = [file for file in COMPARED_FILES if digests[0][file] != digests[1][file]]
        results.append({"experiment": name, "precision": precision, "settings": sets,
                        "identical": not differing, "differing": differing})
    return results


def measure(args, name: str, precision: str, cache: dict) -> dict:
    """One experiment's training and evaluation rates (bench.cnnlab_loop) and peak memory."""
    size = SIZES[args.quick]
    cfg = harness.run_config(args, name, f"precision={precision}", *(size["limits"] if args.quick else []))
    key = (cfg["dataset"], cfg["val_size"], cfg["limit_train"], cfg["limit_test"])
    if key not in cache:
        cache[key] = study_data(cfg)
    data, kind = cache[key]
    batch = cfg["batch_size"]
    steps = args.steps or max(size["min_steps"], size["images"] // batch)
    steps = max(1, min(steps, len(data.train_y) // batch))
    row = {"experiment": name, "model": cfg["model"], "dataset": cfg["dataset"], "batch_size": batch,
           "precision": precision, "data": kind, "steps": steps}
    try:
        train_ips, eval_ips, flops = cnnlab_loop(cfg, data, steps, min(size["eval_images"], len(data.test_y)),
                                                 args.threads)
    except (RuntimeError, CnnlabError) as err:  # a refusal or out of memory: the other runs still count
        return {**row, "error": first_line(err)}
    return {**row, "train_images_per_sec": train_ips, "eval_images_per_sec": eval_ips, "tflops": 3 * flops
            * train_ips / 1e12, "peak_memory_mb": runtime.peak_memory_mb(runtime.pick_device(cfg["device"]))}


def estimate(cfg: dict, rate: dict) -> float:
    """Seconds of one seed at the full recipe from the measured rates: each epoch's training,
    validation and test, then `cnnlab evaluate` (test, validation and shifted test); start-up excluded."""
    train, val, test = split_sizes(cfg)
    per_epoch = train / rate["train_images_per_sec"] + (val + test) / rate["eval_images_per_sec"]
    return cfg["epochs"] * per_epoch + (val + 2 * test) / rate["eval_images_per_sec"]


def estimates(args, rates: list[dict]) -> dict:
    params = config.load_params(args.params)
    names = list(params["experiments"])  # the whole study, as `datasets: auto` takes it on a GPU
    by_key = {(r["experiment"], r["precision"]): r for r in rates if "error" not in r}
    rows, totals = [], {}
    for name in names:
        cfg = config.experiment_config(params, name)  # the full recipe, the study's seeds
        row = {"experiment": name, "dataset": cfg["dataset"], "epochs": cfg["epochs"],
               "seeds": len(cfg["seeds"])}
        for precision in ("fp32", "bf16"):
            rate = by_key.get((name, precision))
            row[f"{precision}_seconds"] = None if rate is None else estimate(cfg, rate)  # a seed
        rows.append(row)
    for precision in ("fp32", "bf16"):
        done = [r for r in rows if r[f"{precision}_seconds"] is not None]
        seconds = {r["experiment"]: r[f"{precision}_seconds"] * r["seeds"] for r in done}
        total = sum(seconds.values())
        totals[precision] = {"study_seconds": total, "estimated": len(done),
                             "within_target": len(done) == len(names) and total <= STUDY_TARGET,
                             "cifar10_seconds": sum(seconds[r["experiment"]] for r in done
                                                    if r["dataset"] == "cifar10")}
    return {"experiments": rows, "totals": totals, "of": len(names)}


def first_of_each_model(args) -> tuple[dict, list[str]]:
    """{model: its first experiment}, and the study's experiments (or --experiments) with those
    first: short of time, every model is still measured."""
    params = config.load_params(args.params)
    names = args.experiments or list(params["experiments"])  # the whole study, as on a GPU
    firsts = {}
    for name in names:
        firsts.setdefault(params["experiments"][name]["model"], name)
    return firsts, [*firsts.values(), *(name for name in names if name not in firsts.values())]


def markdown(result: dict) -> str:
    rates = {(r["experiment"], r["precision"]): r for r in result.get("rates", [])}
    lines = [f"Device check: {result['seconds']:.0f} s.", "",
             "Matmul TFLOP/s: " + ", ".join(f"{k} {v:.3g}" for k, v in result.get("matmul", {}).items()),
             "", "| model | experiment | batch | fp32 img/s | bf16 img/s | bf16 / fp32 | bf16 TFLOP/s "
             "| peak MB fp32 / bf16 |", "|---|---|--:|--:|--:|--:|--:|--:|"]
    for model, name in result["models"].items():
        runs = [rates.get((name, precision), {}) for precision in ("fp32", "bf16")]
        ips = [r.get("train_images_per_sec") for r in runs]
        shown = [f"{v:,.0f}" if v else r.get("error", "-") for v, r in zip(ips, runs)]
        ratio = f"{ips[1] / ips[0]:.2f}x" if all(ips) else "-"
        memory = " / ".join(f"{r.get('peak_memory_mb', 0):,.0f}" for r in runs)
        lines.append(f"| {model} | {name} | {runs[0].get('batch_size', '-')} | {shown[0]} | {shown[1]} "
                     f"| {ratio} | {runs[1].get('tflops', 0):.2f} | {memory} |")
    if result.get("parity"):
        seeds = sorted({r["seed"] for r in result["parity"]})
        lines += ["", f"bf16 against fp32: lenet5_mnist, {result['parity_epochs']} epochs, MNIST's files", "",
                  parity_table(result["parity"], seeds).rstrip()]
    lines += [f"\n{key}: {result[key]}" for key in ("parity_error", "determinism_error") if key in result]
    for case in result.get("determinism", []):
        same = "**differ** in " + ", ".join(case["differing"]) if case["differing"] else "byte-identical"
        lines += ["", f"Two identical runs of {case['experiment']}, {case['precision']} "
                  f"({', '.join(case['settings'])}): {', '.join(COMPARED_FILES)} {same}"]
    if result.get("estimates"):
        lines += ["", "Estimated at the full recipe from these rates (start-up excluded):", "",
                  "| CIFAR-10 experiment | epochs | seeds | fp32 min a seed | bf16 min a seed |",
                  "|---|--:|--:|--:|--:|"]
        for r in (r for r in result["estimates"]["experiments"] if r["dataset"] == "cifar10"):
            minutes = [f"{r[k] / 60:.1f}" if r[k] else "-" for k in ("fp32_seconds", "bf16_seconds")]
            target = f" (target {LONG_TARGET[1] // 60} min)" if r["experiment"] == LONG_TARGET[0] else ""
            name = r["experiment"] + target
            lines.append(f"| {name} | {r['epochs']} | {r['seeds']} | {' | '.join(minutes)} |")
        for precision, t in result["estimates"]["totals"].items():
            lines += ["", f"{precision}: the study at its seeds **{t['study_seconds'] / 3600:.2f} h** "
                      f"(CIFAR-10 {t['cifar10_seconds'] / 3600:.2f} h; {t['estimated']} of "
                      f"{result['estimates']['of']} experiments measured; target {STUDY_TARGET // 3600} h: "
                      f"{'met' if t['within_target'] else 'not met'})"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    deadline = started + 60 * args.minutes
    args.out.mkdir(parents=True, exist_ok=True)
    device = runtime.pick_device("auto")
    result = {"seconds": 0.0, "parity_epochs": SIZES[args.quick]["parity_epochs"], "models": {}}

    def save(final: bool = False, **changes) -> None:
        """Both files after each step (a run cut short keeps what it measured); the table printed last."""
        result.update(changes, seconds=time.perf_counter() - started)
        harness.publish(args, result, markdown(result), device, show=final)

    try:
        with tempfile.TemporaryDirectory(prefix="device-check-") as folder:
            args.root = fetch_data(args, Path(folder))
            size = SIZES[args.quick]["matmul"]
            save(matmul={name: harness.matmul_gflops(dtype, size[0], size[1], device) / 1000
                         for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))})
            for step in (parity, determinism):
                try:
                    save(**{step.__name__: step(args, Path(folder))})
                except (RuntimeError, CnnlabError) as err:  # refused or diverged here: the rates still count
                    save(**{f"{step.__name__}_error": first_line(err)})
            result["models"], names = first_of_each_model(args)
            rates, cache = [], {}
            for name in names:
                if time.perf_counter() > deadline:
                    print(f"--minutes {args.minutes} reached: not measured from {name} on", file=sys.stderr)
                    break
                for precision in ("fp32", "bf16"):
                    rates.append(measure(args, name, precision, cache))
                    print(f"  {name:40s} {precision} {rates[-1].get('train_images_per_sec', 0):10,.0f} img/s",
                          file=sys.stderr)
                save(rates=rates)
            save(final=True, estimates=estimates(args, rates))
    except CnnlabError as err:
        print(f"cnnlab: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
