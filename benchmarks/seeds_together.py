"""Several seeds of one small model trained together in one process, against cnnlab's one-seed path.

    .venv/bin/python benchmarks/seeds_together.py --json benchmarks/results/seeds-together-DATE.json
    .venv/bin/python benchmarks/seeds_together.py --experiments lenet5_mnist --steps 20 --rounds 1

The MNIST models are overhead-bound (batch 64, tiny kernels, Python and the optimizer every step),
so training S seeds at once might share that overhead. For each experiment, at each thread count:

- **cnnlab**: cnnlab's own path for one seed (`engine.set_up_training`, `train.train_one_epoch`),
  timed as benchmarks/bench.py times it: a warm-up epoch of a few batches, then `--steps` batches.
- **vmap**: S seeds as one model: `torch.func.stack_module_state` of the S models (each built by
  `engine.set_up_training` with its own seed, so each the model that seed's `cnnlab train` starts
  from), a `vmap`ped `functional_call` over the S seeds' own batches (each seed its own training
  split and batch order, as cnnlab draws them: x of shape [S, B, C, H, W]), the S losses summed,
  one backward and ONE optimizer over the stacked parameters.
- **loop**: the S models in a Python loop within one step (S forward passes, one backward of the
  summed loss, one optimizer over all S models' parameters): what sharing only the step's
  overhead gives, without vmap's grouped kernels.

Adam and SGD (with momentum, weight decay) work element by element, so one optimizer over the
stacked parameters is exactly S independent optimizers: the check trains `--check-steps` batches
each way and compares each seed with cnnlab's own one-seed run of that seed on the same batches:
the largest absolute difference of a parameter (next to it the largest change training made to
one), and of the epoch's mean training loss. vmap's grouped kernels sum in another order, so its
parameters differ by rounding, which Adam magnifies where a gradient is near 0 (it divides by the
gradient's running size); the loop runs cnnlab's own kernels and should match exactly.

Per seed, a together-step trains B images of each of S seeds: "all seeds" images/s = S x B x steps
/ seconds, and "speed-up" = that / cnnlab's one-seed images/s: how much sooner S seeds are done
than S runs of cnnlab one after another at the same threads. GFLOP/s = 3 x forward FLOPs per image
(cnnlab's count) x images/s, against a 2048 x 2048 fp32 matmul at the same threads, measured in
the same run. Evaluation: cnnlab's `predict` over the test set at its batch
(max(test_batch_size, EVAL_BATCH_FLOOR)) and at 4 times that.

Rounds alternate between the ways; the best round of each counts, as in bench.py.
"""

import copy
import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import bench
import torch
from outputs import add_output_options, publish
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from cnnlab import config, random_streams
from cnnlab.data.batches import StudyData
from cnnlab.training import engine, runtime
from cnnlab.training import train as cnnlab_train

REPO = Path(__file__).resolve().parents[1]
STEPS = {"lenet5_mnist": 200, "cnn_mnist": 300, "mlp_mnist": 600, "lenet_sigmoid_fashionmnist": 50}
WAYS = ("vmap", "loop")
WARMUP_STEPS = bench.WARMUP_STEPS


# ----------------------------------------------------------------------------------------------
# cnnlab's own path, one seed


def cnnlab_epochs(cfg: dict, data: StudyData, steps: int,
                  threads: int) -> tuple[engine.TrainingSession, float]:
    """cnnlab's training of one seed: a warm-up epoch of a few batches, then an epoch of `steps`
    batches. Returns the session and that epoch's training images per second."""
    run = engine.set_up_training(cfg, threads, data=bench.subset(data, WARMUP_STEPS * cfg["batch_size"]))
    cnnlab_train.train_one_epoch(run, 1)
    run.data = bench.subset(data, steps * cfg["batch_size"]).to(run.device)
    started = time.perf_counter()
    cnnlab_train.train_one_epoch(run, 2)
    return run, len(run.data.train_y) / (time.perf_counter() - started)


def eval_rate(run: engine.Session, batch_size: int) -> float:
    """Test images per second of cnnlab's `predict` at `batch_size` (after one warm-up batch)."""
    run = dataclasses.replace(run, cfg={**run.cfg, "test_batch_size": batch_size})
    x, y = run.data.test_x, run.data.test_y
    run.predict(x[:batch_size], y[:batch_size])
    started = time.perf_counter()
    run.predict(x, y)
    return len(y) / (time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------
# S seeds together


@dataclass
class Together:
    """S seeds of one experiment trained as one: each seed's session (its cfg, data and model as
    `cnnlab train` sets them up) and what the chosen way trains them with."""

    way: str  # "vmap" or "loop"
    sessions: list[engine.TrainingSession]
    optimizer: torch.optim.Optimizer
    # vmap only: the S models' parameters and buffers stacked ([S, ...] each), and the model's
    # structure on the "meta" device, for functional_call.
    parameters: dict[str, nn.Parameter] = dataclasses.field(default_factory=dict)
    buffers: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    base: nn.Module | None = None


def set_up_together(way: str, cfgs: list[dict], datas: list[StudyData], threads: int) -> Together:
    sessions = [engine.set_up_training(cfg, threads, data=data) for cfg, data in zip(cfgs, datas)]
    models = [s.model for s in sessions]
    if way == "loop":
        # One optimizer over every seed's parameters; the recipe's own (engine.make_optimizer).
        return Together(way, sessions, engine.make_optimizer(cfgs[0], nn.ModuleList(models)))
    stacked, buffers = stack_module_state(models)
    parameters = {name: nn.Parameter(p) for name, p in stacked.items()}
    optimizer = engine.make_optimizer(cfgs[0], nn.ParameterList(parameters.values()))
    return Together(way, sessions, optimizer, parameters, buffers, copy.deepcopy(models[0]).to("meta"))


def together_losses(together: Together, x: torch.Tensor,
                    y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each seed's mean loss on its own batch x[i], y[i], and the predicted classes [S, B]."""
    loss_fn = engine.loss_function(together.sessions[0].cfg["loss"])
    if together.way == "loop":
        outputs = torch.stack([s.model(x[i]).float() for i, s in enumerate(together.sessions)])
        return torch.stack([loss_fn(out, labels) for out, labels in zip(outputs, y)]), outputs.argmax(2)

    def one_seed(parameters, buffers, x, y):
        output = functional_call(together.base, (parameters, buffers), (x,)).float()
        return loss_fn(output, y), output.argmax(1)

    # randomness="different": each seed its own dropout masks (none of the MNIST models has dropout).
    return vmap(one_seed, randomness="different")(together.parameters, together.buffers, x, y)


def seed_order(session: engine.TrainingSession, epoch: int) -> torch.Tensor:
    """The seed's batch order in this epoch, drawn as `train_one_epoch` draws it."""
    generator = random_streams.epoch_generator(session.cfg["seed"], epoch)
    return cnnlab_train.batch_order(session.cfg["order"], session.data.train_y, generator)


def train_together(together: Together, epoch: int) -> list[tuple[float, float]]:
    """One epoch of every seed at once, each on its own batches in its own order: what
    `train_one_epoch` does for one seed, with the same bookkeeping (losses and correct counts on
    the device, a finiteness check every CHECK_EVERY steps). Returns each seed's mean loss and
    accuracy, as `train_one_epoch` does."""
    sessions, cfg, device = together.sessions, together.sessions[0].cfg, together.sessions[0].device
    for s in sessions:
        s.model.train()
    orders = torch.stack([seed_order(s, epoch) for s in sessions]).to(device)  # [S, N]
    images = torch.stack([s.data.train_x for s in sessions])  # [S, N, C, H, W]
    labels = torch.stack([s.data.train_y for s in sessions])
    seeds, batch_size = torch.arange(len(sessions), device=device)[:, None], cfg["batch_size"]
    steps = -(-orders.shape[1] // batch_size)
    losses = torch.zeros(steps, len(sessions), dtype=torch.float64, device=device)
    correct = torch.zeros(steps, len(sessions), dtype=torch.int64, device=device)
    for step in range(steps):
        idx = orders[:, step * batch_size:(step + 1) * batch_size]  # [S, B]: each seed's own images
        x, y = images[seeds, idx], labels[seeds, idx]
        # One call prepares all seeds' images (channels-last, as cnnlab's batches), viewed as [S, B, ...].
        x = sessions[0].prepare(x.flatten(0, 1), train=True).view(x.shape)
        together.optimizer.zero_grad(set_to_none=True)
        with sessions[0].amp():
            seed_losses, predicted = together_losses(together, x, y)
        seed_losses.sum().backward()  # seed i's parameters get the gradient of seed i's loss alone
        together.optimizer.step()
        losses[step] = seed_losses.detach() * idx.shape[1]
        correct[step] = (predicted == y).sum(1)
        if (step + 1) % cnnlab_train.CHECK_EVERY == 0 or step + 1 == steps:
            cnnlab_train.check_finite(losses[:step + 1].flatten(), cfg, epoch)
    n = orders.shape[1]
    return [(loss / n, count / n) for loss, count in zip(losses.sum(0).tolist(), correct.sum(0).tolist())]


def seed_parameters(together: Together, i: int) -> dict[str, torch.Tensor]:
    if together.way == "loop":
        return dict(together.sessions[i].model.named_parameters())
    return {name: p[i] for name, p in together.parameters.items()}


def together_epochs(way: str, cfgs: list[dict], datas: list[StudyData], steps: int,
                    threads: int) -> tuple[Together, float]:
    """As `cnnlab_epochs`, for S seeds together; returns the images per second of all seeds."""
    batch_size = cfgs[0]["batch_size"]
    warmup_datas = [bench.subset(data, WARMUP_STEPS * batch_size) for data in datas]
    together = set_up_together(way, cfgs, warmup_datas, threads)
    train_together(together, 1)
    for session, data in zip(together.sessions, datas):
        session.data = bench.subset(data, steps * batch_size).to(session.device)
    started = time.perf_counter()
    train_together(together, 2)
    return together, len(cfgs) * steps * batch_size / (time.perf_counter() - started)


def max_differences(together: Together, references: list[engine.TrainingSession],
                    initial: list[dict[str, torch.Tensor]]) -> tuple[float, float]:
    """The largest |seed i's parameter, together - the same in cnnlab's own run of seed i| over the
    seeds, and the largest |change| training made to a parameter of those runs (for scale)."""
    difference = change = 0.0
    for i, reference in enumerate(references):
        ours = seed_parameters(together, i)
        for name, p in reference.model.named_parameters():
            difference = max(difference, (ours[name].detach() - p.detach()).abs().max().item())
            change = max(change, (p.detach() - initial[i][name]).abs().max().item())
    return difference, change


# ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    experiment: str
    model: str
    batch_size: int
    steps: int
    threads: int
    way: str  # "cnnlab" (one seed), "vmap" or "loop"
    seeds: int
    images_per_sec: float = 0.0  # all seeds together
    flops: int = 0

    @property
    def per_seed(self) -> float:
        return self.images_per_sec / self.seeds

    def gflops(self) -> float:
        return 3 * self.flops * self.images_per_sec / 1e9


def experiment_config(args, name: str) -> dict:
    """The experiment's settings with its list of seeds (bench.experiment_cfg keeps the first seed only)."""
    params = config.load_params(args.params)
    if args.root:
        params["data"]["root"] = str(args.root)
    params["data"]["verify"] = False  # a benchmark, not a result: no digests needed
    return config.experiment_config(params, name, args.set)


def seed_cfgs(cfg: dict, count: int) -> list[dict]:
    """The run settings of the experiment's first `count` seeds."""
    if count > len(cfg["seeds"]):
        raise SystemExit(f"{cfg['name']} has {len(cfg['seeds'])} seeds {cfg['seeds']}, fewer than "
                         f"{count}; pass --set 'seeds={list(range(count))}' or fewer --seeds-together")
    return [config.run_config(cfg, seed) for seed in cfg["seeds"][:count]]


def check_supported(cfg: dict) -> None:
    """The together-step handles what the MNIST recipes use; anything else would be compared unfairly."""
    asked = {"augment": "none", "mix": "none", "permute": False, "scheduler": "none", "compile": False}
    for key, plain in asked.items():
        if cfg[key] != plain:
            raise SystemExit(f"{cfg['name']}: {key}: {cfg[key]} is not supported here (only {plain})")
    if cfg["precision"] == "fp16":
        raise SystemExit(f"{cfg['name']}: precision fp16 (a GradScaler) is not supported here")


def load_seed_data(cfg: dict, seeds: int, n_train: int) -> list[StudyData]:
    """Each seed's own training split (the validation split is drawn from the seed), as cnnlab loads it."""
    datas = []
    for run_cfg in seed_cfgs(cfg, seeds):
        data, _ = bench.study_data(run_cfg, n_train=n_train)
        if len(data.train_y) < n_train:
            raise SystemExit(f"{cfg['name']}: {len(data.train_y)} training images under "
                             f"{cfg['data']['root']}, fewer than the {n_train} needed; pass fewer --steps")
        datas.append(data)
    return datas


def check_equality(cfg: dict, datas: list[StudyData], steps: int, threads: int,
                   seeds_together: list[int]) -> list[dict]:
    """Train one epoch of `steps` batches from the start every way, and compare each seed with
    cnnlab's own run of it: parameters, and the epoch's mean training loss."""
    cfgs = seed_cfgs(cfg, max(seeds_together))
    datas = [bench.subset(data, steps * cfg["batch_size"]) for data in datas]
    references, initial, reference_losses = [], [], []
    for run_cfg, data in zip(cfgs, datas):
        run = engine.set_up_training(run_cfg, threads, data=data)
        initial.append({name: p.detach().clone() for name, p in run.model.named_parameters()})
        reference_losses.append(cnnlab_train.train_one_epoch(run, 1)[0])
        references.append(run)
    checks = []
    for way in WAYS:
        for count in seeds_together:
            together = set_up_together(way, cfgs[:count], datas[:count], threads)
            losses = [loss for loss, _ in train_together(together, 1)]
            difference, change = max_differences(together, references[:count], initial)
            checks.append({"experiment": cfg["name"], "way": way, "seeds": count, "steps": steps,
                           "threads": threads, "max_abs_difference": difference, "max_abs_change": change,
                           "max_loss_difference": max(abs(a - b) for a, b in zip(losses, reference_losses))})
    return checks


def markdown(rows: list[Row], checks: list[dict], evals: list[dict], peaks: dict, info: dict,
             command: str) -> str:
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in info["flags"].items())
    peak_text = ", ".join(f"{peaks[t]:.0f} GFLOP/s at {t} thread{'s' if t > 1 else ''}" for t in peaks)
    lines = [
        f"Command: `{command}`", "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
        f"(CPU capability {info['torch_cpu_capability']}); flags: {flags}; "
        f"load average {info['load_before']:.2f} before, {info['load_after']:.2f} after.", "",
        f"Matmul peak (fp32, {info['matmul_size']}x{info['matmul_size']}): {peak_text}.", "",
        "Training (images per second, best of the rounds; speed-up = all seeds' images/s over "
        "cnnlab's one seed at the same threads):", "",
        "| experiment | model | batch | steps | threads | way | seeds | img/s per seed | img/s, all seeds "
        "| speed-up | GFLOP/s | % of fp32 peak |",
        "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    one_seed = {(r.experiment, r.threads): r.images_per_sec for r in rows if r.way == "cnnlab"}
    for r in rows:
        speed_up = r.images_per_sec / one_seed[r.experiment, r.threads]
        lines.append(f"| {r.experiment} | {r.model} | {r.batch_size} | {r.steps} | {r.threads} | {r.way} "
                     f"| {r.seeds} | {r.per_seed:,.0f} | {r.images_per_sec:,.0f} | **{speed_up:.2f}x** "
                     f"| {r.gflops():.1f} | {100 * r.gflops() / peaks[r.threads]:.0f} % |")
    lines += ["", "Each seed trained together against cnnlab's own run of that seed on the same batches "
              "(parameters after the steps):", "",
              "| experiment | threads | way | seeds | steps | max abs difference "
              "| max abs change by training | max difference of the mean loss |",
              "|---|--:|---|--:|--:|--:|--:|--:|"]
    lines += [f"| {c['experiment']} | {c['threads']} | {c['way']} | {c['seeds']} | {c['steps']} "
              f"| {c['max_abs_difference']:.2e} | {c['max_abs_change']:.2e} "
              f"| {c['max_loss_difference']:.2e} |" for c in checks]
    lines += ["", "Evaluation (cnnlab's `predict` over the test set, images per second):", "",
              "| experiment | threads | batch | img/s | batch x4 | img/s | ratio |",
              "|---|--:|--:|--:|--:|--:|--:|"]
    for e in evals:
        ratio = e["images_per_sec_x4"] / e["images_per_sec"]
        lines.append(f"| {e['experiment']} | {e['threads']} | {e['batch']} | {e['images_per_sec']:,.0f} "
                     f"| {4 * e['batch']} | {e['images_per_sec_x4']:,.0f} | **{ratio:.2f}x** |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = bench.study_parser(__doc__, list(STEPS))
    p.add_argument("--seeds-together", nargs="+", type=int, default=[2, 3, 5], metavar="S")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2], metavar="N", help="torch threads")
    p.add_argument("--rounds", type=int, default=2, help="alternations of the ways (best counts)")
    p.add_argument("--check-steps", type=int, default=20, help="batches of the equality check")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override, as `cnnlab train --set`")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak")
    add_output_options(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    info = bench.machine()
    info["load_before"], info["matmul_size"] = os.getloadavg()[0], args.matmul_size
    print(f"{info['cpu']}: load {info['load_before']:.2f}", file=sys.stderr)
    device = runtime.pick_device(experiment_config(args, args.experiments[0])["device"])
    peaks = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        peaks[threads] = bench.matmul_gflops(torch.float32, args.matmul_size, device=device)

    rows, checks, evals, loaded = [], [], [], {}
    for name in args.experiments:
        cfg = experiment_config(args, name)
        check_supported(cfg)
        steps = args.steps or STEPS.get(name, 50)
        n_train = max(steps, args.check_steps, WARMUP_STEPS) * cfg["batch_size"]
        loaded[name] = (cfg, load_seed_data(cfg, max(args.seeds_together), n_train))
        for threads in args.threads:
            rows.append(Row(name, cfg["model"], cfg["batch_size"], steps, threads, "cnnlab", 1))
            rows += [Row(name, cfg["model"], cfg["batch_size"], steps, threads, way, count)
                     for way in WAYS for count in args.seeds_together]
            checks += check_equality(cfg, loaded[name][1], args.check_steps, threads, args.seeds_together)
    for _ in range(args.rounds):
        for row in rows:
            cfg, datas = loaded[row.experiment]
            cfgs = seed_cfgs(cfg, row.seeds)
            if row.way == "cnnlab":
                run, rate = cnnlab_epochs(cfgs[0], datas[0], row.steps, row.threads)
            else:
                run, rate = together_epochs(row.way, cfgs, datas[:row.seeds], row.steps, row.threads)
                run = run.sessions[0]
            row.images_per_sec, row.flops = max(row.images_per_sec, rate), run.flops_per_image
            print(f"  {row.experiment:28s} {row.threads} thr  {row.way:6s} x{row.seeds}  "
                  f"{rate:9,.0f} img/s", file=sys.stderr)
    for name, (cfg, datas) in loaded.items():
        batch = max(cfg["test_batch_size"], engine.EVAL_BATCH_FLOOR)
        for threads in args.threads:
            run = engine.set_up(seed_cfgs(cfg, 1)[0], threads, data=datas[0])  # its weights: no matter
            rates = [max(eval_rate(run, b) for _ in range(args.rounds)) for b in (batch, 4 * batch)]
            evals.append({"experiment": name, "threads": threads, "batch": batch,
                          "images_per_sec": rates[0], "images_per_sec_x4": rates[1]})
    info["load_after"] = os.getloadavg()[0]
    command = "benchmarks/seeds_together.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(rows, checks, evals, peaks, info, command.strip())
    return publish(args, {
        "machine": info, "matmul_gflops_fp32": peaks, "checks": checks, "evaluation": evals,
        "rows": [{**r.__dict__, "per_seed": r.per_seed, "gflops": r.gflops()} for r in rows]}, text)


if __name__ == "__main__":
    sys.exit(main())
