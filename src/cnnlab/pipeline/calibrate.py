"""How fast one experiment trains on this machine, and its peak memory: a few seconds of real steps.

`cnnlab plan` runs `python -m cnnlab.pipeline.calibrate` once per distinct training setup, in a fresh
process, so that the peak memory is that setup's own (VmHWM on the CPU, torch's peak allocation on
CUDA: `runtime.peak_memory_mb`, as train.json records it). The child trains with cnnlab's own
`engine.set_up_training` and `train.train_one_epoch` (as benchmarks/bench.py does) on random uint8
images of the dataset's shape and full size: a step's time does not depend on the pixels, and
holding the whole dataset makes the memory that of a real run. Results are cached in
.cnnlab/calibration.json, keyed by everything that changes them (the setup, threads, torch version, CPU).
"""

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from cnnlab.errors import CnnlabError

CACHE = Path(".cnnlab/calibration.json")
# The settings that change a training step's speed or memory (not lr, epochs, seed, ...).
SETUP_KEYS = ("dataset", "model", "trainable", "batch_size", "test_batch_size", "optimizer", "augment",
              "mix", "permute", "normalize", "precision", "device", "compile")
ROUNDS = 3  # timed rounds of training steps
# Training and evaluation images of each dataset (before the validation split).
DATASET_SIZES = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "cifar10": (50_000, 10_000)}


def split_sizes(cfg: dict) -> tuple[int, int, int]:
    """Images trained, validated and tested per epoch, as cnnlab.data.batches.load_study_data splits them."""
    train, test = DATASET_SIZES[cfg["dataset"]]
    train -= cfg["val_size"]
    return (min(train, cfg["limit_train"] or train), cfg["val_size"], min(test, cfg["limit_test"] or test))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cache_key(cfg: dict, threads: int, seconds: float) -> str:
    import torch

    setup = {key: cfg[key] for key in SETUP_KEYS}
    setup.update(threads=threads, seconds=seconds, torch=torch.__version__, cpu=cpu_name(),
                 gpu=torch.cuda.get_device_name() if cfg["device"] == "cuda" else None)
    return hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()[:16]


FIGURES = ("train_ips", "eval_ips", "peak_memory_mb", "load_average", "startup_seconds")


def read_cache() -> dict:
    """The cached calibrations; entries that are unreadable or damaged are measured again."""
    try:
        cache = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(cache, dict):
        return {}
    return {key: entry for key, entry in cache.items() if isinstance(entry, dict)
            and all(isinstance(entry.get(name), int | float) and entry[name] >= 0 for name in FIGURES)
            and entry["train_ips"] > 0 and entry["eval_ips"] > 0}


def calibrate(cfg: dict, threads: int, seconds: float) -> dict:
    """{train_ips, eval_ips, peak_memory_mb, startup_seconds} of `cfg`'s setup, measured in a child."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cnnlab.pipeline.calibrate", str(threads), str(seconds)],
                          input=json.dumps(cfg), capture_output=True, text=True)
    refusal = done.stderr.strip().splitlines()[-1:] if done.returncode == 2 else []
    if refusal and refusal[0].startswith("cnnlab: error: "):  # the child refused the setup
        raise CnnlabError(f"calibrating {cfg['name']}: {refusal[0].removeprefix('cnnlab: error: ')}")
    if done.returncode != 0:  # cnnlab checked the settings already: this is unexpected
        raise RuntimeError(f"calibrating {cfg['name']} failed:\n{done.stderr}")
    result = json.loads(done.stdout.splitlines()[-1])
    result["startup_seconds"] = time.perf_counter() - started - result.pop("work_seconds")
    return result


def random_study_data(cfg: dict):
    """Random uint8 images and labels in the dataset's shape and the run's split sizes."""
    import torch

    from cnnlab.data.batches import StudyData
    from cnnlab.data.catalog import DATASETS
    from cnnlab.random_streams import stand_in_data_generator

    info = DATASETS[cfg["dataset"]]
    generator = stand_in_data_generator()

    def split(n):
        images = torch.randint(0, 256, (n, info.channels, info.size, info.size), dtype=torch.uint8,
                               generator=generator)
        return images, torch.randint(0, len(info.classes), (n,), generator=generator)

    return StudyData(*split(split_sizes(cfg)[0]), *split(cfg["val_size"]), *split(split_sizes(cfg)[2]),
                     info, False)


def first(data, n: int):
    """The first `n` training images (a view: no copy, so the whole dataset stays the memory held)."""
    from cnnlab.data.batches import StudyData

    return StudyData(data.train_x[:n], data.train_y[:n], data.val_x, data.val_y, data.test_x,
                     data.test_y, data.info, data.verified)


def measure(cfg: dict, threads: int, seconds: float) -> dict:
    """In the child: warm up one batch, train for about `seconds` in up to ROUNDS rounds (the
    fastest counts: the one least disturbed by other processes), then evaluate one full evaluation
    batch (the size `predict` uses), as each epoch of `cnnlab train` does."""
    from cnnlab.training import engine, runtime, train

    started = time.perf_counter()
    cfg = {**cfg, "pretrained": False}  # the same compute and memory, and no download
    data = random_study_data(cfg)
    batch = cfg["batch_size"]
    run = engine.set_up_training(cfg, threads, data=first(data, batch))
    warm = time.perf_counter()
    train.train_one_epoch(run, 1)  # the first step also sets up the kernels
    steps = max(2, min(500, round(seconds / (time.perf_counter() - warm))))
    rounds = min(ROUNDS, steps)
    run.data = first(data, steps // rounds * batch).to(run.device)
    train_ips = 0.0
    for epoch in range(2, 2 + rounds):
        timed = time.perf_counter()
        train.train_one_epoch(run, epoch)
        train_ips = max(train_ips, len(run.data.train_y) / (time.perf_counter() - timed))
    eval_batch = min(max(cfg["test_batch_size"], engine.EVAL_BATCH_FLOOR),
                     len(data.val_y) or len(data.test_y))
    x, y = (data.val_x, data.val_y) if len(data.val_y) else (data.test_x, data.test_y)
    x, y = x[:eval_batch].to(run.device), y[:eval_batch].to(run.device)
    timed = time.perf_counter()
    run.predict(x, y)
    eval_ips = len(y) / (time.perf_counter() - timed)
    return {"train_ips": train_ips, "eval_ips": eval_ips, "steps": steps,
            "peak_memory_mb": runtime.peak_memory_mb(run.device), "load_average": os.getloadavg()[0],
            "work_seconds": time.perf_counter() - started}


if __name__ == "__main__":
    try:
        print(json.dumps(measure(json.load(sys.stdin), int(sys.argv[1]), float(sys.argv[2]))))
    except CnnlabError as err:  # as the `cnnlab` command refuses: one line, exit 2
        print(f"cnnlab: error: {err}", file=sys.stderr)
        sys.exit(2)
