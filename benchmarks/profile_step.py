"""Where a training step's time goes: convolutions against the rest, under torch's profiler.

    python benchmarks/profile_step.py                         # VGG and ResNet-18, 2 threads
    python benchmarks/profile_step.py --experiments lenet5_mnist --steps 50
    python benchmarks/profile_step.py --quick                 # a smoke run

cnnlab's own training functions (`engine.set_up_training`, `train.train_one_epoch`, as
bench.cnnlab_epoch runs them) train `--steps` batches (after a warm-up) under `torch.profiler`,
once as params.yaml sets them up and once with deterministic mode's filling of fresh memory off
(`torch.utils.deterministic.fill_uninitialized_memory`: with `deterministic: true` torch fills
every new tensor with NaN first, which costs a pass over memory). Per experiment: the step's wall
time and GFLOP/s (3 x forward FLOPs per image), the share of the convolution operators (forward
and backward; they do all the FLOPs but the last Linear layer) and the GFLOP/s inside them, against
the fp32 matmul peak measured in the same run, and the operators that took most time. Datasets
not on disk (CIFAR-10 offline) are random images of the real shape, as in bench.py.
"""

import sys
from collections import defaultdict

import harness
import torch
from bench import cnnlab_epoch, study_data
from torch.profiler import ProfilerActivity, profile

STEPS = {"vgg_cifar10": 6, "resnet18_cifar10": 3}
CONVOLUTION_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution",
                   "aten::convolution", "aten::conv2d", "aten::_slow_conv2d_forward")
TOP = 6
QUICK = {"experiments": ["lenet5_mnist"], "steps": 3, "threads": 1, "matmul_size": 128,
         "set": ["data.val_size=100"]}


def profile_steps(cfg: dict, steps: int, threads: int, fill: bool) -> dict:
    torch.utils.deterministic.fill_uninitialized_memory = fill
    data, kind = study_data(cfg)
    profiler = profile(activities=[ProfilerActivity.CPU])
    run, wall = cnnlab_epoch(cfg, data, steps, threads, around=profiler)
    seconds = defaultdict(float)
    for event in profiler.key_averages():
        seconds[event.key] += event.self_cpu_time_total / 1e6
    convolution = sum(seconds[name] for name in CONVOLUTION_OPS)
    flops = 3 * run.flops_per_image * steps * cfg["batch_size"]
    return {"fill": fill, "data": kind, "steps": steps, "wall_seconds": wall, "gflops": flops / wall / 1e9,
            "convolution_seconds": convolution, "convolution_gflops": flops / convolution / 1e9,
            "top": sorted(seconds.items(), key=lambda item: -item[1])[:TOP]}


def markdown(result: dict) -> str:
    peak = result["matmul_gflops"]
    lines = [f"{result['threads']} threads; fp32 matmul peak {peak:.0f} GFLOP/s.", "",
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
    p = harness.parser(__file__, __doc__)
    harness.study_options(p, list(STEPS), threads=2)
    p.add_argument("--steps", type=int, help="profiled batches per experiment (default: per experiment)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak")
    args = harness.parse(p, argv, quick=QUICK)
    torch.set_num_threads(args.threads)
    experiments = {}
    for name in args.experiments:
        cfg = harness.run_config(args, name)
        steps = args.steps or STEPS.get(name, 20)
        experiments[name] = [profile_steps(cfg, steps, args.threads, fill) for fill in (True, False)]
    torch.utils.deterministic.fill_uninitialized_memory = True  # torch's default, for whoever runs next
    result = {"threads": args.threads, "experiments": experiments,
              "matmul_gflops": harness.matmul_gflops(torch.float32, args.matmul_size)}
    return harness.publish(args, result, markdown(result))


if __name__ == "__main__":
    sys.exit(main())
