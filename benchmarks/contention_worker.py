"""One training process of benchmarks/contention.py, which starts it with its OpenMP wait policy in
its environment (libgomp, torch's OpenMP here, reads it once, when torch loads it):

    python benchmarks/contention_worker.py --root DATA --threads N --seconds S --chunk-steps K [--set K=V]

It trains LeNet-5 on real MNIST with the functions `cnnlab train` uses
(`cnnlab.training.engine.set_up_training`, then `cnnlab.training.train.train_one_epoch` over chunks
of `--chunk-steps` batches), warms up, prints `ready`, waits for a line on stdin, and counts the
images of the chunks it finishes within `--seconds`; then it prints its report (JSON) and trains on
until it is stopped, so that the processes of one scenario overlap for their whole windows.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import harness
import torch

from cnnlab.training import engine
from cnnlab.training.train import train_one_epoch

EXPERIMENT = "lenet5_mnist"
WARMUP_CHUNKS = 2
POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")  # the variables a policy may set
BUSY = 0.1  # a thread using more than this share of a core during the window counts as busy


def experiment_cfg(args: argparse.Namespace) -> dict:
    """lenet5_mnist's recipe (with `--set` overrides), one run, its training set cut to one chunk."""
    cfg = harness.run_config(args, EXPERIMENT)
    return {**cfg, "limit_train": args.chunk_steps * cfg["batch_size"]}


def thread_cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) of each thread of this process: the main one, OpenMP's pool, others."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for thread in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{thread}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3
        used[thread] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime: fields 14, 15
    return used


def train(args: argparse.Namespace) -> None:
    session = engine.set_up_training(experiment_cfg(args), args.threads)
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


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--params", type=Path, default=harness.REPO / "params.yaml")
    p.add_argument("--root", type=Path, required=True, help="data root holding mnist/")
    p.add_argument("--threads", type=int, required=True, help="torch threads")
    p.add_argument("--seconds", type=float, required=True, help="the measured window")
    p.add_argument("--chunk-steps", type=int, required=True, help="batches between two looks at the clock")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="as `cnnlab train --set`")
    train(p.parse_args())
