"""The labs' plain training loop against cnnlab's training path, side by side in one run.

    python benchmarks/bench.py                                  # the tables of docs/performance.md
    python benchmarks/bench.py --set precision=bf16 --json benchmarks/results/bench-bf16-DATE.json
    python benchmarks/bench.py --experiments lenet5_mnist --steps 20 --rounds 1
    python benchmarks/bench.py --quick                          # a smoke run

For each experiment the two loops train the same model with the same recipe (batch size,
optimizer, loss, transforms) for a fixed number of batches after a few warm-up batches; rounds
alternate between them, and the best round of each counts (the least disturbed by other
processes on a shared machine). The labs' loop is the one the course's notebooks write: a
torchvision `DataLoader` (num_workers=0) over a dataset that turns each uint8 image into a PIL
image and applies ToTensor/Normalize (and RandomCrop/RandomHorizontalFlip for CIFAR-10), fp32,
contiguous (NCHW) memory, `loss.item()` and the accuracy read every step. cnnlab's side calls
the functions `cnnlab train` runs (`cnnlab.training.engine.set_up_training`,
`cnnlab.training.train.train_one_epoch`), with the settings of params.yaml (and --set overrides).

Both sides also time their per-epoch evaluation (the labs: a no_grad loop over a PIL test
DataLoader at the test batch size; cnnlab: the session's `predict`, whose batch is
max(test_batch_size, EVAL_BATCH_FLOOR): `--set test_batch_size=4096` times a larger one), and the
table combines the rates into one epoch as each does it (the labs train on the whole training set
and test; cnnlab trains on it less the validation split, then validates and tests).

Achieved GFLOP/s = 3 x forward FLOPs per image x images per second (the backward pass costs
about twice the forward one; FLOPs as torch's FlopCounterMode counts them, a multiply-add = 2),
compared with a 2048 x 2048 matmul measured in the same run.

Datasets not found under the data root (CIFAR-10 on an offline machine) are replaced by random
uint8 images of the real shape and size (`cnnlab.pipeline.calibrate.random_study_data`, as `cnnlab
plan` measures): the throughput of a training step does not depend on the pixels. Peak memory:
benchmarks/memory.py; `snakemake -n` and `dvc status`: benchmarks/catalog_scale.py.
"""

import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass

import harness
import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T

from cnnlab.data import transforms
from cnnlab.data.batches import StudyData, load_study_data
from cnnlab.data.catalog import DatasetInfo, dataset_dir
from cnnlab.models import create_model
from cnnlab.pipeline.calibrate import first, random_study_data, split_sizes
from cnnlab.training import engine, runtime
from cnnlab.training.train import train_one_epoch

# experiment: timed steps (batches) at full length; VGG and ResNet-18 take ~0.5 and ~2 s a batch
# in the labs' loop on two CPU cores, the MNIST models a few milliseconds.
STEPS = {"lenet5_mnist": 400, "mlp_mnist": 600, "cnn_mnist": 600, "convnet_cifar10": 200, "vgg_cifar10": 24,
         "resnet18_cifar10": 8}
WARMUP_STEPS = 3
EVAL_IMAGES = {"vgg_cifar10": 1024, "resnet18_cifar10": 1024}  # test images timed; else 4096
QUICK = {"experiments": ["lenet5_mnist", "convnet_cifar10"], "steps": 2, "rounds": 1, "matmul_size": 128,
         "set": ["data.val_size=100"]}


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


def study_data(cfg: dict) -> tuple[StudyData, str]:
    """The experiment's data from the data root ("files"), else random images of its shape and size."""
    if dataset_dir(cfg["dataset"], cfg["data"]["root"]).is_dir():
        return load_study_data(cfg), "files"
    return random_study_data(cfg), "random"


def cnnlab_epoch(cfg: dict, data: StudyData, steps: int, threads: int | None,
                 around=None) -> tuple[engine.TrainingSession, float]:
    """`cnnlab train`'s own functions: a warm-up epoch of a few batches (it also compiles, when
    cfg["compile"]), then an epoch of `steps` batches inside `around` (a profiler, say). Returns
    the session and that epoch's seconds."""
    run = engine.set_up_training(cfg, threads, data=first(data, WARMUP_STEPS * cfg["batch_size"]))
    train_one_epoch(run, 1)
    run.data = first(data, steps * cfg["batch_size"]).to(run.device)
    with around or nullcontext():
        started = time.perf_counter()
        train_one_epoch(run, 2)
        seconds = time.perf_counter() - started
    return run, seconds


def cnnlab_loop(cfg: dict, data: StudyData, steps: int, eval_images: int,
                threads: int | None) -> tuple[float, float, int]:
    """`cnnlab_epoch`, then `predict` (each epoch's evaluation) on `eval_images` test images.

    Returns (training images per second, evaluation images per second, forward FLOPs per image).
    """
    run, seconds = cnnlab_epoch(cfg, data, steps, threads)
    x, y = run.data.test_x[:eval_images], run.data.test_y[:eval_images]
    run.predict(x[:cfg["test_batch_size"]], y[:cfg["test_batch_size"]])  # warm-up
    started = time.perf_counter()
    run.predict(x, y)
    return len(run.data.train_y) / seconds, len(y) / (time.perf_counter() - started), run.flops_per_image


# ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    experiment: str
    model: str
    sizes: tuple[int, int, int]  # images trained, validated and tested per epoch (calibrate.split_sizes)
    batch_size: int
    steps: int
    eval_images: int
    data: str
    labs: float = 0.0  # training images per second, the best round
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
        train, val, test = self.sizes
        return ((train + val) / self.labs + test / self.labs_eval,
                train / self.cnnlab + (val + test) / self.cnnlab_eval)


def markdown(rows: list[Row], result: dict) -> str:
    peak, emulated = result["matmul_gflops"], result["bf16_emulated"]
    lines = [
        f"Matmul peak: fp32 {peak['fp32']:.0f} GFLOP/s ({result['matmul_size']}x{result['matmul_size']}), "
        f"bf16 {peak['bf16']:.1f} GFLOP/s ({result['bf16_matmul_size']}x{result['bf16_matmul_size']}"
        f"{', emulated: no native bf16' if emulated else ''}). cnnlab precision: {result['precision']}.",
        "",
        "Training (images per second, best of the rounds):",
        "",
        "| experiment | model | batch | steps | data | labs' loop | cnnlab | ratio "
        "| labs GFLOP/s | cnnlab GFLOP/s | cnnlab % of fp32 peak | cnnlab % of bf16 peak |",
        "|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        g = r.gflops(r.cnnlab)
        of_bf16 = "n/a (no native bf16)" if emulated else f"{100 * g / peak['bf16']:.0f} %"
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
    return "\n".join(lines)


def parse_args(argv=None):
    p = harness.parser(__file__, __doc__)
    harness.study_options(p, list(STEPS))
    p.add_argument("--steps", type=int, help="timed batches per experiment (default: per experiment)")
    p.add_argument("--scale-steps", type=float, default=1.0, help="multiply the default steps")
    p.add_argument("--rounds", type=int, default=2, help="alternations of the two loops (best counts)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak")
    return harness.parse(p, argv, quick=QUICK)


def main(argv=None) -> int:
    args = parse_args(argv)
    runtime.set_threads(args.threads)
    device = runtime.pick_device(harness.run_config(args, args.experiments[0])["device"])
    # Without native bf16 a 2048 matmul takes about a minute; 512 shows the emulation's rate as well.
    emulated = not (runtime.cpu_has_bf16() or device.type == "cuda")
    bf16_size = min(args.matmul_size, 512) if emulated else args.matmul_size
    result = {"matmul_size": args.matmul_size, "bf16_matmul_size": bf16_size, "bf16_emulated": emulated,
              "matmul_gflops": {"fp32": harness.matmul_gflops(torch.float32, args.matmul_size, device=device),
                                "bf16": harness.matmul_gflops(torch.bfloat16, bf16_size, device=device)}}
    rows, measures = [], {}
    for name in args.experiments:
        cfg = harness.run_config(args, name)
        steps = args.steps or max(1, round(STEPS.get(name, 50) * args.scale_steps))
        data, kind = study_data(cfg)
        needed = (WARMUP_STEPS + steps) * cfg["batch_size"]
        if len(data.train_y) < needed:
            raise SystemExit(f"{name}: {len(data.train_y)} training images under {cfg['data']['root']}, "
                             f"fewer than the {needed} that {steps} steps need; pass fewer --steps")
        row = Row(name, cfg["model"], split_sizes(cfg), cfg["batch_size"], steps,
                  min(EVAL_IMAGES.get(name, 4096), len(data.test_y)), kind)
        rows.append(row)
        measures[name, "labs"] = lambda cfg=cfg, data=data, row=row: labs_loop(cfg, data, row.steps)
        measures[name, "labs eval"] = lambda cfg=cfg, data=data, row=row: labs_eval(
            cfg, data, row.eval_images)
        measures[name, "cnnlab"] = lambda cfg=cfg, data=data, row=row: cnnlab_loop(
            cfg, data, row.steps, row.eval_images, args.threads)
        result["precision"] = runtime.pick_precision(cfg["precision"], device)
    rounds = harness.interleaved(measures, args.rounds)
    for row in rows:
        row.labs = max(rounds[row.experiment, "labs"])
        row.labs_eval = max(rounds[row.experiment, "labs eval"])
        train_rates, eval_rates, flops = zip(*rounds[row.experiment, "cnnlab"])
        row.cnnlab, row.cnnlab_eval, row.flops = max(train_rates), max(eval_rates), flops[0]
    result["rows"] = [{**r.__dict__, "ratio": r.ratio, "cnnlab_gflops": r.gflops(r.cnnlab),
                       "labs_gflops": r.gflops(r.labs), "epoch_seconds": r.epoch_seconds} for r in rows]
    return harness.publish(args, result, markdown(rows, result), device)


if __name__ == "__main__":
    sys.exit(main())
