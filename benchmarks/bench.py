"""The labs' plain training loop against cnnlab's training path, side by side in one run.

    .venv/bin/python benchmarks/bench.py                      # the table of docs/performance.md
    .venv/bin/python benchmarks/bench.py --memory-only            # peak RSS of every experiment
    .venv/bin/python benchmarks/bench.py --pipeline PROJECT       # + `snakemake -n all`, `dvc status`
    .venv/bin/python benchmarks/bench.py --experiments lenet5_mnist --steps 20 --rounds 1

For each experiment the two loops train the same model with the same recipe (batch size,
optimizer, loss, transforms) for a fixed number of batches after a few warm-up batches; rounds
alternate between them, and the best round of each counts (the least disturbed by other
processes on a shared machine). The labs' loop is the one the course's notebooks write: a
torchvision `DataLoader` (num_workers=0) over a dataset that turns each uint8 image into a PIL
image and applies ToTensor/Normalize (and RandomCrop/RandomHorizontalFlip for CIFAR-10), fp32,
contiguous (NCHW) memory, `loss.item()` and the accuracy read every step. cnnlab's side calls
the functions `cnnlab train` runs (`cnnlab.training.engine.set_up_training`,
`cnnlab.training.train.train_one_epoch`), with the
settings of params.yaml (and --set overrides).

Both sides also time their per-epoch evaluation (the labs: a no_grad loop over a PIL test
DataLoader at the test batch size; cnnlab: the session's `predict`), and the table combines the
rates into one epoch as each does it (the labs train on the whole training set and test; cnnlab
trains on it less the validation split, then validates and tests).

Achieved GFLOP/s = 3 x forward FLOPs per image x images per second (the backward pass costs
about twice the forward one; FLOPs as torch's FlopCounterMode counts them, a multiply-add = 2),
compared with a 2048 x 2048 matmul measured in the same run.

Datasets not found under the data root (CIFAR-10 on an offline machine) are replaced by random
uint8 images of the real shape: the throughput of a training step does not depend on the pixels.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from outputs import add_output_options, publish
from PIL import Image
from torch import nn
from torchvision import transforms as T

from cnnlab import config
from cnnlab.data import transforms
from cnnlab.data.batches import StudyData, load_study_data
from cnnlab.data.catalog import DATASETS, DatasetInfo, dataset_dir
from cnnlab.models import create_model
from cnnlab.random_streams import stand_in_data_generator
from cnnlab.training import engine, runtime
from cnnlab.training import train as cnnlab_train

REPO = Path(__file__).resolve().parents[1]
# experiment: timed steps (batches) at full length; VGG and ResNet-18 take ~0.5 and ~2 s a batch
# in the labs' loop on two CPU cores, the MNIST models a few milliseconds.
STEPS = {
    "lenet5_mnist": 400,
    "mlp_mnist": 600,
    "cnn_mnist": 600,
    "convnet_cifar10": 200,
    "vgg_cifar10": 24,
    "resnet18_cifar10": 8,
}
WARMUP_STEPS = 3
EVAL_IMAGES = {"vgg_cifar10": 1024, "resnet18_cifar10": 1024}  # test images timed; else 4096
FULL_SIZES = {"mnist": (55_000, 5_000, 10_000), "fashion_mnist": (55_000, 5_000, 10_000),
              "cifar10": (45_000, 5_000, 10_000)}  # train (after the validation split), val, test


# ----------------------------------------------------------------------------------------------
# The labs' loop


class PILImages(torch.utils.data.Dataset):
    """What torchvision's MNIST and CIFAR10 datasets do per item: array → PIL image → transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        x = images.numpy()
        self.images = x[:, 0] if x.shape[1] == 1 else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        self.labels = labels.numpy()
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def labs_transform(cfg: dict, info: DatasetInfo):
    steps = [T.RandomCrop(info.size, padding=4)] if cfg["augment"] != "none" else []
    steps += [T.RandomHorizontalFlip()] if cfg["augment"] == "crop_flip" else []
    steps.append(T.ToTensor())
    statistics = transforms.normalization(cfg["normalize"], info.mean, info.std, info.channels)
    if statistics is not None:
        steps.append(T.Normalize(*statistics))
    return T.Compose(steps)


def labs_loop(cfg: dict, data: StudyData, steps: int) -> float:
    """Train `steps` batches the labs' way after warm-up; returns images per second."""
    torch.manual_seed(cfg["seed"])
    dataset = PILImages(data.train_x, data.train_y, labs_transform(cfg, data.info))
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg["batch_size"],
                                         shuffle=cfg["order"] == "shuffled")
    model = create_model(cfg["model"], num_classes=len(data.info.classes))
    if cfg["optimizer"] == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    criterion = nn.NLLLoss() if cfg["loss"] == "nll" else nn.CrossEntropyLoss()
    model.train()
    running_loss, correct, seen = 0.0, 0, 0
    for i, (images, labels) in enumerate(loader):
        if i == WARMUP_STEPS:
            started, seen = time.perf_counter(), 0
        if i == WARMUP_STEPS + steps:
            break
        optimizer.zero_grad()
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        _, predicted = outputs.max(1)
        correct += predicted.eq(labels).sum().item()
        seen += labels.size(0)
    return seen / (time.perf_counter() - started)


def labs_eval(cfg: dict, data: StudyData, images: int) -> float:
    """The labs' test loop (no_grad, test batch size, test transforms) on `images` test images."""
    test = PILImages(data.test_x[:images], data.test_y[:images], labs_transform({**cfg, "augment": "none"},
                                                                                 data.info))
    loader = torch.utils.data.DataLoader(test, batch_size=cfg["test_batch_size"])
    model = create_model(cfg["model"], num_classes=len(data.info.classes)).eval()
    criterion = nn.NLLLoss() if cfg["loss"] == "nll" else nn.CrossEntropyLoss()
    test_loss, correct = 0.0, 0
    started = time.perf_counter()
    with torch.no_grad():
        for images_batch, labels in loader:
            outputs = model(images_batch)
            test_loss += criterion(outputs, labels).item()
            correct += (outputs.argmax(1) == labels).sum().item()
    return len(test) / (time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------
# cnnlab's training path


def subset(data: StudyData, n: int) -> StudyData:
    return StudyData(data.train_x[:n], data.train_y[:n], data.val_x, data.val_y, data.test_x, data.test_y,
                     data.info, data.verified)


def cnnlab_loop(cfg: dict, data: StudyData, steps: int, eval_images: int,
                threads: int | None) -> tuple[float, float, int]:
    """`cnnlab train`'s own functions: `steps` batches of `train_one_epoch` after a warm-up epoch of
    a few batches, then `predict` (the per-epoch evaluation) on `eval_images` test images.

    Returns (training images per second, evaluation images per second, forward FLOPs per image).
    """
    run = engine.set_up_training(cfg, threads, data=subset(data, WARMUP_STEPS * cfg["batch_size"]))
    cnnlab_train.train_one_epoch(run, 1)  # also compiles, when cfg["compile"]
    run.data = subset(data, steps * cfg["batch_size"]).to(run.device)
    started = time.perf_counter()
    cnnlab_train.train_one_epoch(run, 2)
    train_ips = len(run.data.train_y) / (time.perf_counter() - started)
    x, y = run.data.test_x[:eval_images], run.data.test_y[:eval_images]
    run.predict(x[:cfg["test_batch_size"]], y[:cfg["test_batch_size"]])  # warm-up
    started = time.perf_counter()
    run.predict(x, y)
    return train_ips, len(y) / (time.perf_counter() - started), run.flops_per_image


# ----------------------------------------------------------------------------------------------
# Data, machine, peak


def study_data(cfg: dict, n_train: int | None = None) -> tuple[StudyData, str]:
    """The experiment's data from the data root ("files"), else random images of the real shape."""
    info = DATASETS[cfg["dataset"]]
    if dataset_dir(cfg["dataset"], cfg["data"]["root"]).is_dir():
        return load_study_data(cfg), "files"
    sizes = FULL_SIZES[cfg["dataset"]]
    n_train = n_train or sizes[0]
    g = stand_in_data_generator()

    def images(n):
        return torch.randint(0, 256, (n, info.channels, info.size, info.size), dtype=torch.uint8, generator=g)

    def labels(n):
        return torch.randint(0, len(info.classes), (n,), generator=g)

    return StudyData(images(n_train), labels(n_train), images(sizes[1]), labels(sizes[1]),
                     images(sizes[2]), labels(sizes[2]), info, False), "random"


def matmul_gflops(dtype: torch.dtype, n: int = 2048, min_seconds: float = 1.0,
                  device: torch.device | None = None) -> float:
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


def machine() -> dict:
    model, flags = platform.processor(), set()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                     if line.startswith("model name"))
        flags = set(next(line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                         if line.startswith("flags")))
    except (OSError, StopIteration):
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return {
        "cpu": model, "cores": os.cpu_count(), "flags": {f: f in flags for f in wanted},
        "bf16_native": runtime.cpu_has_bf16(), "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(), "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


# ----------------------------------------------------------------------------------------------
# Peak memory of a lab experiment (child process), pipeline dry-run timings


def memory_child(cfg: dict, steps: int, threads: int | None) -> float:
    """Peak RSS (MB) of one experiment's training path: its full data in memory, `steps` training
    batches at its batch size, and evaluation batches as each epoch's validation and test use.
    Pretrained weights are not loaded (the same memory, and no download)."""
    cfg = {**cfg, "pretrained": False}
    data, _ = study_data(cfg)
    run = engine.set_up_training(cfg, threads, data=subset(data, steps * cfg["batch_size"]))
    cnnlab_train.train_one_epoch(run, 1)
    n = 2 * max(cfg["test_batch_size"], engine.EVAL_BATCH_FLOOR)  # the peak comes with one batch
    run.predict(run.data.val_x[:n], run.data.val_y[:n])
    run.predict(run.data.test_x[:n], run.data.test_y[:n])
    return runtime.peak_memory_mb(torch.device("cpu"))


def peak_memory(args, experiments: list[str]) -> dict:
    peaks = {}
    for name in experiments:
        command = [sys.executable, __file__, "--memory-child", name, "--params", str(args.params),
                   "--memory-steps", str(args.memory_steps), *sum((["--set", s] for s in args.set), [])]
        if args.root:
            command += ["--root", str(args.root)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        peaks[name] = json.loads(out.strip().splitlines()[-1])["peak_rss_mb"]
        print(f"  {name:28s} peak RSS {peaks[name]:8.0f} MB", file=sys.stderr)
    return peaks


def time_command(command: list[str], cwd: Path, repeats: int = 3) -> float | None:
    best = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            print(f"  {' '.join(command)} failed: {result.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        best = seconds if best is None else min(best, seconds)
    return best


# ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    experiment: str
    model: str
    dataset: str
    batch_size: int
    steps: int
    eval_images: int
    data: str
    labs: float = 0.0  # training images per second
    cnnlab: float = 0.0
    labs_eval: float = 0.0  # evaluation images per second
    cnnlab_eval: float = 0.0
    flops: int = 0

    @property
    def ratio(self) -> float:
        return self.cnnlab / self.labs

    def gflops(self, images_per_sec: float) -> float:
        return 3 * self.flops * images_per_sec / 1e9

    @property
    def epoch_seconds(self) -> tuple[float, float]:
        """One epoch as each does it, from the measured rates: the labs train on the whole training
        set and test; cnnlab trains on it less the validation split, then validates and tests."""
        train, val, test = FULL_SIZES[self.dataset]
        return ((train + val) / self.labs + test / self.labs_eval,
                train / self.cnnlab + (val + test) / self.cnnlab_eval)


def markdown(rows: list[Row], peak: dict, info: dict, precision: str, memory: dict | None,
             pipeline: dict | None, command: str) -> str:
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in info["flags"].items())
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
        f"(CPU capability {info['torch_cpu_capability']}), {info['threads']} threads; "
        f"flags: {flags}; load average {info['load_before']:.2f} before, {info['load_after']:.2f} after.",
        "",
        f"Matmul peak: fp32 {peak['fp32']:.0f} GFLOP/s ({info['matmul_size']}x{info['matmul_size']}), "
        f"bf16 {peak['bf16']:.1f} GFLOP/s ({info['bf16_matmul_size']}x{info['bf16_matmul_size']}"
        f"{', emulated: no native bf16' if info['bf16_emulated'] else ''}). "
        f"cnnlab precision: {precision}.",
        "",
        "Training (images per second, best of the rounds):",
        "",
        "| experiment | model | batch | steps | data | labs' loop | cnnlab | ratio "
        "| labs GFLOP/s | cnnlab GFLOP/s | cnnlab % of fp32 peak | cnnlab % of bf16 peak |",
        "|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        g = r.gflops(r.cnnlab)
        of_bf16 = "n/a (no native bf16)" if info["bf16_emulated"] else f"{100 * g / peak['bf16']:.0f} %"
        lines.append(
            f"| {r.experiment} | {r.model} | {r.batch_size} | {r.steps} | {r.data} | {r.labs:,.0f} "
            f"| {r.cnnlab:,.0f} | **{r.ratio:.2f}x** | {r.gflops(r.labs):.1f} | {g:.1f} "
            f"| {100 * g / peak['fp32']:.0f} % | {of_bf16} |")
    lines += ["", "One epoch, from the measured training and evaluation rates:", "",
              "| experiment | labs eval img/s | cnnlab eval img/s | labs epoch (s) | cnnlab epoch (s) "
              "| epoch ratio |", "|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        labs, ours = r.epoch_seconds
        lines.append(f"| {r.experiment} | {r.labs_eval:,.0f} | {r.cnnlab_eval:,.0f} | {labs:,.1f} "
                     f"| {ours:,.1f} | **{labs / ours:.2f}x** |")
    if memory:
        lines += ["", "| experiment | peak RSS (MB) |", "|---|--:|"]
        lines += [f"| {name} | {mb:,.0f} |" for name, mb in memory.items()]
    if pipeline:
        lines += [""] + [f"- `{cmd}`: {'failed' if s is None else f'{s:.2f} s'} (best of 3)"
                         for cmd, s in pipeline.items()]
    return "\n".join(lines) + "\n"


def study_parser(doc: str, experiments: list[str]) -> argparse.ArgumentParser:
    """The options every benchmark of the study's experiments starts with."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--root", type=Path, help="data root (default: data.root of params.yaml)")
    p.add_argument("--experiments", nargs="+", default=experiments, metavar="EXP")
    p.add_argument("--steps", type=int, help="timed batches per experiment (default: per experiment)")
    return p


def parse_args(argv=None):
    p = study_parser(__doc__, list(STEPS))
    p.add_argument("--scale-steps", type=float, default=1.0, help="multiply the default steps")
    p.add_argument("--rounds", type=int, default=2, help="alternations of the two loops (best counts)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for cnnlab's side, as `cnnlab train --set` (e.g. precision=bf16)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak")
    p.add_argument("--memory", action="store_true", help="peak RSS of each experiment (child processes)")
    p.add_argument("--memory-only", nargs="*", metavar="EXP",
                   help="only the peak RSS, of these experiments (default: every one of params.yaml)")
    p.add_argument("--memory-steps", type=int, default=3)
    p.add_argument("--pipeline", type=Path, metavar="PROJECT",
                   help="time `snakemake -n all` and `dvc status` in this project folder")
    add_output_options(p)
    p.add_argument("--memory-child", metavar="EXP", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def experiment_cfg(args, name: str) -> dict:
    params = config.load_params(args.params)
    if args.root:
        params["data"]["root"] = str(args.root)
    params["data"]["verify"] = False  # a benchmark, not a result: no digests needed
    cfg = config.experiment_config(params, name, args.set)
    return config.run_config(cfg, cfg["seeds"][0])  # one run: the experiment's first seed


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        cfg = experiment_cfg(args, args.memory_child)
        print(json.dumps({"peak_rss_mb": memory_child(cfg, args.memory_steps, args.threads)}))
        return 0

    if args.memory_only is not None:
        names = args.memory_only or list(config.load_params(args.params)["experiments"])
        memory = peak_memory(args, names)
        lines = ["| experiment | batch | peak RSS (MB) |", "|---|--:|--:|"]
        lines += [f"| {name} | {experiment_cfg(args, name)['batch_size']} | {mb:,.0f} |"
                  for name, mb in memory.items()]
        return publish(args, {"memory_mb": memory}, "\n".join(lines))

    info = machine()
    info["load_before"], info["matmul_size"] = os.getloadavg()[0], args.matmul_size
    print(f"{info['cpu']}: {info['threads']} threads, load {info['load_before']:.2f}", file=sys.stderr)
    # Without native bf16 a 2048 matmul takes about a minute; 512 shows the emulation's rate as well.
    device = runtime.pick_device(experiment_cfg(args, args.experiments[0])["device"])
    native = info["bf16_native"] or device.type == "cuda"
    info["bf16_matmul_size"] = args.matmul_size if native else min(args.matmul_size, 512)
    info["bf16_emulated"] = not native
    peak = {"fp32": matmul_gflops(torch.float32, args.matmul_size, device=device),
            "bf16": matmul_gflops(torch.bfloat16, info["bf16_matmul_size"], device=device)}
    print(f"matmul peak: fp32 {peak['fp32']:.0f}, bf16 {peak['bf16']:.1f} GFLOP/s", file=sys.stderr)

    rows, loaded = [], {}
    for name in args.experiments:
        cfg = experiment_cfg(args, name)
        steps = args.steps or max(1, round(STEPS.get(name, 50) * args.scale_steps))
        needed = (WARMUP_STEPS + steps) * cfg["batch_size"]
        data, kind = study_data(cfg, n_train=needed)
        if len(data.train_y) < needed:
            raise SystemExit(f"{name}: {len(data.train_y)} training images under {cfg['data']['root']}, "
                             f"fewer than the {needed} that {steps} steps need; pass fewer --steps")
        eval_images = min(EVAL_IMAGES.get(name, 4096), len(data.test_y))
        loaded[name] = (cfg, data)
        rows.append(Row(name, cfg["model"], cfg["dataset"], cfg["batch_size"], steps, eval_images, kind))
    precision = None
    for _ in range(args.rounds):
        for row in rows:
            cfg, data = loaded[row.experiment]
            row.labs = max(row.labs, labs_loop(cfg, data, row.steps))
            row.labs_eval = max(row.labs_eval, labs_eval(cfg, data, row.eval_images))
            train_ips, eval_ips, row.flops = cnnlab_loop(cfg, data, row.steps, row.eval_images, args.threads)
            row.cnnlab, row.cnnlab_eval = max(row.cnnlab, train_ips), max(row.cnnlab_eval, eval_ips)
            precision = runtime.pick_precision(cfg["precision"], runtime.pick_device(cfg["device"]))
            print(f"  {row.experiment:28s} labs {row.labs:9,.0f}  cnnlab {row.cnnlab:9,.0f} img/s  "
                  f"ratio {row.ratio:5.2f}", file=sys.stderr)
    torch.use_deterministic_algorithms(False)
    memory = peak_memory(args, args.experiments) if args.memory else None
    pipeline = None
    if args.pipeline:
        pipeline = {"snakemake -n all": time_command(["snakemake", "-n", "all"], args.pipeline),
                    "dvc status": time_command(["dvc", "status"], args.pipeline)}
    info["load_after"] = os.getloadavg()[0]
    command = "benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(rows, peak, info, precision, memory, pipeline, command.strip())
    return publish(args, {
        "machine": info, "matmul_gflops": peak, "precision": precision, "memory_mb": memory,
        "pipeline_seconds": pipeline,
        "rows": [{**r.__dict__, "ratio": r.ratio, "cnnlab_gflops": r.gflops(r.cnnlab),
                  "labs_gflops": r.gflops(r.labs), "epoch_seconds": r.epoch_seconds}
                 for r in rows]}, text)

if __name__ == "__main__":
    sys.exit(main())
