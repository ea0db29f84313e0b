"""Where a training step's time goes: convolutions against the rest, under torch's profiler.

    .venv/bin/python benchmarks/profile_step.py                         # VGG and ResNet-18, 2 threads
    .venv/bin/python benchmarks/profile_step.py --experiments lenet5_mnist --steps 50

cnnlab's own training functions (`engine.set_up_training`, `train.train_one_epoch`) run `--steps`
batches (after a warm-up) under `torch.profiler`, once as params.yaml sets them up and once with
deterministic mode's filling of fresh memory off (`torch.utils.deterministic.fill_uninitialized_memory`:
with `deterministic: true` torch fills every new tensor with NaN first, which costs a pass over
memory). Per experiment: the step's wall time and GFLOP/s (3 x forward FLOPs per image), the share of
the convolution operators (forward and backward; they do all the FLOPs but the last Linear layer)
and the GFLOP/s inside them, against the fp32 matmul peak measured in the same run, and the
operators that took most time. Datasets not on disk (CIFAR-10 offline) are random images of the
real shape, as in bench.py.
"""

import sys
import time
from collections import defaultdict

import torch
from bench import experiment_cfg, machine, matmul_gflops, study_data, study_parser, subset
from outputs import add_output_options, publish
from torch.profiler import ProfilerActivity, profile

from cnnlab.training import engine
from cnnlab.training import train as cnnlab_train

STEPS = {"vgg_cifar10": 6, "resnet18_cifar10": 3}
CONVOLUTION_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution",
                   "aten::convolution", "aten::conv2d", "aten::_slow_conv2d_forward")
TOP = 6


def profile_steps(cfg: dict, steps: int, threads: int, fill: bool) -> dict:
    torch.utils.deterministic.fill_uninitialized_memory = fill
    data, kind = study_data(cfg, n_train=(steps + 2) * cfg["batch_size"])
    run = engine.set_up_training(cfg, threads, data=subset(data, 2 * cfg["batch_size"]))
    cnnlab_train.train_one_epoch(run, 1)  # warm-up
    run.data = subset(data, steps * cfg["batch_size"]).to(run.device)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        started = time.perf_counter()
        cnnlab_train.train_one_epoch(run, 2)
        wall = time.perf_counter() - started
    seconds = defaultdict(float)
    for event in profiler.key_averages():
        seconds[event.key] += event.self_cpu_time_total / 1e6
    convolution = sum(seconds[name] for name in CONVOLUTION_OPS)
    flops = 3 * run.flops_per_image * steps * cfg["batch_size"]
    return {"fill": fill, "data": kind, "steps": steps, "wall_seconds": wall, "gflops": flops / wall / 1e9,
            "convolution_seconds": convolution, "convolution_gflops": flops / convolution / 1e9,
            "top": sorted(seconds.items(), key=lambda item: -item[1])[:TOP]}


def markdown(result: dict) -> str:
    m, peak = result["machine"], result["matmul_gflops"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_cpu_capability']}), "
             f"{result['threads']} threads; fp32 matmul peak {peak:.0f} GFLOP/s.", "",
             "| experiment | fill fresh memory | wall a step (s) | GFLOP/s | % of peak | convolutions: share "
             "of the step | GFLOP/s inside them | % of peak | most time (share of the step) |",
             "|---|---|--:|--:|--:|--:|--:|--:|---|"]
    for name, runs in result["experiments"].items():
        for r in runs:
            top = ", ".join(f"{op.removeprefix('aten::')} {100 * s / r['wall_seconds']:.0f} %"
                            for op, s in r["top"])
            lines.append(f"| {name} | {'yes' if r['fill'] else 'no'} | {r['wall_seconds'] / r['steps']:.3f} "
                         f"| {r['gflops']:.0f} | {100 * r['gflops'] / peak:.0f} % "
                         f"| {100 * r['convolution_seconds'] / r['wall_seconds']:.0f} % "
                         f"| {r['convolution_gflops']:.0f} | {100 * r['convolution_gflops'] / peak:.0f} % "
                         f"| {top} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = study_parser(__doc__, list(STEPS))
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="params.yaml overrides, as for `cnnlab train --set`")
    add_output_options(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    experiments = {}
    for name in args.experiments:
        cfg = experiment_cfg(args, name)
        steps = args.steps or STEPS.get(name, 20)
        experiments[name] = [profile_steps(cfg, steps, args.threads, fill) for fill in (True, False)]
    torch.utils.deterministic.fill_uninitialized_memory = True  # torch's default, for whoever runs next
    result = {"machine": machine(), "threads": args.threads, "experiments": experiments,
              "matmul_gflops": matmul_gflops(torch.float32, args.matmul_size)}
    return publish(args, result, markdown(result))


if __name__ == "__main__":
    sys.exit(main())
