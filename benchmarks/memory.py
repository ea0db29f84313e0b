"""Peak memory of each experiment's training path, as `cnnlab plan` measures it.

    python benchmarks/memory.py                                  # every experiment of params.yaml
    python benchmarks/memory.py --experiments lenet5_mnist vgg_cifar10 --threads 2
    python benchmarks/memory.py --quick                          # a smoke run

Each experiment is measured by `cnnlab.pipeline.calibrate.calibrate`, the function behind `cnnlab
plan`'s estimates, in a fresh process of its own: its whole dataset in memory (random uint8 images
of its shape and size: the memory of a real run without needing the data), `--seconds` of training
steps at its batch size, then one evaluation batch of the size `predict` uses; the peak resident set
(VmHWM; on CUDA torch's peak allocation). Pretrained weights are not loaded (the same memory, and
no download). The training and evaluation rates of those seconds are kept too.
"""

import sys

import harness

from cnnlab import config
from cnnlab.pipeline.calibrate import calibrate

QUICK = {"experiments": ["lenet5_mnist"], "seconds": 0.5}


def main(argv=None) -> int:
    p = harness.parser(__file__, __doc__)
    harness.study_options(p, experiments=None, threads=1)
    p.add_argument("--seconds", type=float, default=2.0, help="training steps' time per experiment")
    args = harness.parse(p, argv, quick=QUICK)
    names = args.experiments or list(config.load_params(args.params)["experiments"])
    rows = []
    for name in names:
        cfg = harness.run_config(args, name)
        measured = calibrate(cfg, args.threads, args.seconds)
        rows.append({"experiment": name, "batch_size": cfg["batch_size"], **measured})
        print(f"  {name:28s} peak {measured['peak_memory_mb']:8,.0f} MB", file=sys.stderr)
    table = "\n".join(["| experiment | batch | peak MB |", "|---|--:|--:|"] + [
        f"| {r['experiment']} | {r['batch_size']} | {r['peak_memory_mb']:,.0f} |" for r in rows])
    return harness.publish(args, {"threads": args.threads, "seconds": args.seconds, "rows": rows}, table)


if __name__ == "__main__":
    sys.exit(main())
