"""`cnnlab train EXP`: train one experiment and keep the validation-selected checkpoint.

The hot loop does no per-image Python work: the images sit on the model's device as one uint8
tensor, each batch is indexed, converted and augmented there in a few tensor operations, and the
loss and accuracy of every step stay on the device until the epoch's figures are needed.
docs/performance.md has the measurements behind the choices made here.
"""

import csv
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from cnnlab import runtime, transforms
from cnnlab.batches import BatchPreparer, StudyData, load_study_data
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_torch_save, atomic_write_json, atomic_write_text, held_folder
from cnnlab.models import MODEL_INPUT_SHAPES, count_parameters, create_model, init_weights
from cnnlab.results import (
    check_owner,
    check_same_recipe,
    first_line,
    load_checkpoint,
    recorded_experiment,
    require_keys,
)

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                   "lr", "seconds", "images_per_sec"]
CHECKPOINT_KEYS = ("config", "epoch", "model", "optimizer", "scheduler", "scaler", "rng", "history",
                   "best_val", "best_epoch", "wall_seconds")  # what last.pt holds
RESULT_FILES = ["model.pt", "last.pt", "history.csv", "train.json", "metrics.json", "per_class.csv",
                "confusion.csv", "predictions.csv"]
EVAL_BATCH_FLOOR = 1024  # evaluation has no batch-dependent layers, so bigger batches only save time
CHECK_EVERY = 50  # steps between looks at the running loss (a look waits for the device)


class TrainingDiverged(CnnlabError):
    pass


def build_model(cfg: dict, num_classes: int, device: torch.device) -> torch.nn.Module:
    options = {"pretrained": cfg["pretrained"]} if cfg["model"] == "resnet18_imagenet" else {}
    model = init_weights(create_model(cfg["model"], num_classes=num_classes, **options), cfg["init"])
    if cfg["trainable"] != "all":
        prefixes = tuple(cfg["trainable"])
        names = [name for name, _ in model.named_parameters()]
        if not any(name.startswith(prefixes) for name in names):
            raise CnnlabError(f"trainable: {cfg['trainable']} matches no parameter of {cfg['model']}")
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(prefixes))
    # Channels-last (NHWC) memory for every model, on the CPU and on CUDA. Measured on the CPU in
    # fp32 (docs/performance.md): oneDNN's channels-last convolutions and pools are faster for all
    # the study's convolutional models, the tiny MNIST ones included (LeNet-5 +23 %, the small CNN
    # +11 %, E6's convnet +40 %, VGG +15 %, ResNet-18 +11 %); for the MLP it is the same bytes. On
    # CUDA, tensor cores want channels-last with bf16/fp16. make_preparer's batches match.
    return model.to(device, memory_format=torch.channels_last)


def make_preparer(cfg: dict, data: StudyData) -> BatchPreparer:
    """The batch transforms, producing channels-last batches like the model build_model makes."""
    return BatchPreparer(cfg, data.info, channels_last=True)


def loss_function(name: str) -> Callable:
    return F.nll_loss if name == "nll" else F.cross_entropy


def make_optimizer(cfg: dict, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"], foreach=True)
    return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], foreach=True,
                           nesterov=cfg["nesterov"], weight_decay=cfg["weight_decay"])


def make_scheduler(cfg: dict, optimizer, steps_per_epoch: int):
    """Returns (scheduler or None, True when it steps every batch rather than every epoch)."""
    kind, epochs = cfg["scheduler"], cfg["epochs"]
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg["step_size"], cfg["gamma"]), False
    if kind == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg["milestones"], cfg["gamma"]), False
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), False
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg["lr"], total_steps=epochs * steps_per_epoch), True
    return None, False


def flops_per_image(model: torch.nn.Module, name: str, device: torch.device) -> int:
    """Forward FLOPs of one image (a multiply-add counts 2), counted by torch's FlopCounterMode."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *MODEL_INPUT_SHAPES[name], device=device))
    model.train(was_training)
    return counter.get_total_flops()


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Batch order and augmentation of one epoch depend only on (seed, epoch): resuming is exact."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


@dataclass
class Run:
    """What one training run works with, set up by `set_up` (also used by benchmarks/bench.py)."""

    cfg: dict
    device: torch.device
    precision: str
    data: StudyData
    model: torch.nn.Module  # compiled when cfg["compile"]
    prepare: BatchPreparer
    optimizer: torch.optim.Optimizer
    scheduler: object
    scheduler_per_batch: bool
    scaler: torch.amp.GradScaler
    flops_per_image: int

    def amp(self):
        return runtime.autocast(self.device, self.precision)


def set_up(cfg: dict, threads: int | None = None, data: StudyData | None = None) -> Run:
    """Threads, device, precision, seeds, data on the device, model, optimizer: all but the loop."""
    runtime.set_threads(threads)
    device = runtime.pick_device(cfg["device"])
    precision = runtime.pick_precision(cfg["precision"], device)
    runtime.seed_everything(cfg["seed"], cfg["deterministic"])
    runtime.reset_peak_memory(device)
    data = (data if data is not None else load_study_data(cfg)).to(device)
    model = build_model(cfg, len(data.info.classes), device)
    if MODEL_INPUT_SHAPES[cfg["model"]][0] != data.info.channels:
        raise CnnlabError(f"model {cfg['model']} takes {MODEL_INPUT_SHAPES[cfg['model']][0]}-channel "
                          f"images but {cfg['dataset']} has {data.info.channels}; pick a matching model")
    flops = flops_per_image(model, cfg["model"], device)
    optimizer = make_optimizer(cfg, model)
    if cfg["compile"]:
        model = torch.compile(model)
    steps_per_epoch = -(-len(data.train_y) // cfg["batch_size"])
    scheduler, per_batch = make_scheduler(cfg, optimizer, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    return Run(cfg, device, precision, data, model, make_preparer(cfg, data), optimizer,
               scheduler, per_batch, scaler, flops)


def train_one_epoch(run: Run, epoch: int) -> tuple[float, float]:
    """One pass over the training split; returns its mean loss and accuracy."""
    model, data, cfg, optimizer, scaler = run.model, run.data, run.cfg, run.optimizer, run.scaler
    model.train()
    generator = epoch_generator(cfg["seed"], epoch)
    torch.manual_seed(cfg["seed"] * 100_003 + epoch)  # dropout, likewise
    n, batch_size = len(data.train_y), cfg["batch_size"]
    order = torch.randperm(n, generator=generator) if cfg["shuffle"] else torch.arange(n)
    order = order.to(run.device)
    loss_fn = loss_function(cfg["loss"])
    steps = -(-n // batch_size)
    # Summed loss and correct count of every step, kept on the device: reading them each step
    # would make the host wait for the device.
    losses = torch.zeros(steps, dtype=torch.float64, device=run.device)
    correct = torch.zeros(steps, dtype=torch.int64, device=run.device)
    bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg['epochs']}", unit="batch", leave=False,
               disable=not sys.stderr.isatty())
    for step in bar:
        idx = order[step * batch_size:(step + 1) * batch_size]
        x, y = run.prepare(data.train_x[idx], train=True, generator=generator), data.train_y[idx]
        if cfg["mix"] != "none":
            mix = transforms.mixup if cfg["mix"] == "mixup" else transforms.cutmix
            x, y_a, y_b, lam = mix(x, y, cfg["mix_alpha"], generator)
        with run.amp():
            output = model(x)
            if cfg["mix"] != "none":
                loss = lam * loss_fn(output.float(), y_a) + (1 - lam) * loss_fn(output.float(), y_b)
            else:
                loss = loss_fn(output.float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if run.scheduler_per_batch:
            run.scheduler.step()
        losses[step] = loss.detach() * len(y)
        correct[step] = (output.argmax(1) == y).sum()
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            check_finite(losses[:step + 1], cfg, epoch)
            seen = min((step + 1) * batch_size, n)
            bar.set_postfix(loss=f"{losses.sum().item() / seen:.4f}",
                            acc=f"{correct.sum().item() / seen:.4f}")
    return losses.sum().item() / n, correct.sum().item() / n


def check_finite(losses: torch.Tensor, cfg: dict, epoch: int) -> None:
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        step = int(bad[0]) + 1
        raise TrainingDiverged(
            f"{cfg['name']}: the loss became {losses[step - 1].item()} at epoch {epoch}, step {step}; "
            f"lower the learning rate (lr={cfg['lr']}) or check the data")


@torch.inference_mode()
def predict(model, x_all, y_all, prepare, cfg, amp) -> tuple[float, torch.Tensor]:
    """Mean loss and the predicted class of every image."""
    model.eval()
    loss_fn = loss_function(cfg["loss"])
    batch_size = max(cfg["test_batch_size"], EVAL_BATCH_FLOOR)
    total_loss, predictions = torch.zeros((), dtype=torch.float64, device=y_all.device), []
    for start in range(0, len(y_all), batch_size):
        x = prepare(x_all[start:start + batch_size], train=False)
        y = y_all[start:start + batch_size]
        with amp():
            output = model(x).float()
        total_loss += loss_fn(output, y, reduction="sum")
        predictions.append(output.argmax(1))
    return total_loss.item() / max(len(y_all), 1), torch.cat(predictions) if predictions else y_all[:0]


def accuracy(predicted: torch.Tensor, y: torch.Tensor) -> float:
    return (predicted == y).float().mean().item() if len(y) else float("nan")


def history_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def train(cfg: dict, out_dir: Path, resume: bool = False, threads: int | None = None,
          on_epoch_end: Callable[[int], None] | None = None) -> dict:
    """Train `cfg`'s experiment into `out_dir`; returns what train.json records.

    Nothing in `out_dir` changes until every check has passed: the parameters, device, data and
    model (set_up), the folder (free, writable, not another experiment's) and, with `resume`, last.pt.
    """
    out_dir = Path(out_dir)
    last_path = out_dir / "last.pt"
    if resume and not last_path.is_file():
        raise CnnlabError(f"--resume: {last_path} does not exist; train without --resume first")
    run = set_up(cfg, threads)
    with held_folder(out_dir, create=True):
        if resume:
            progress = resume_from(last_path, run)
        else:
            check_owner(out_dir, recorded_experiment(out_dir), cfg)
            for name in RESULT_FILES:  # a previous run's files would be mixed with this run's
                (out_dir / name).unlink(missing_ok=True)
            progress = Progress()
        return train_epochs(run, out_dir, progress, on_epoch_end)


@dataclass
class Progress:
    """Where a run stands: a new one at epoch 1, a resumed one where its last.pt left off."""

    history: list[dict] = field(default_factory=list)
    best_val: float = -1.0
    best_epoch: int = 0
    next_epoch: int = 1
    wall_seconds: float = 0.0


def resume_from(last_path: Path, run: Run) -> Progress:
    """Put the model, optimizer, scheduler, scaler and generators back as last.pt saved them."""
    cfg, fix = run.cfg, f"delete it and run `cnnlab train {run.cfg['name']}` without --resume"
    state = load_checkpoint(last_path, fix)
    require_keys(state, CHECKPOINT_KEYS, last_path, fix)
    require_keys(state["config"], ("name",), last_path, fix)
    check_owner(last_path.parent, state["config"]["name"], cfg)
    check_same_recipe(state["config"], cfg, last_path,
                      "resume with the same params.yaml and --set values, or train without --resume")
    try:
        _unwrap(run.model).load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        if run.scheduler is not None:
            run.scheduler.load_state_dict(state["scheduler"])
        run.scaler.load_state_dict(state["scaler"])
        runtime.set_rng_states(state["rng"])
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise CnnlabError(f"{last_path} does not fit the model and optimizer of {cfg['name']} "
                          f"({first_line(err)}); {fix}") from None
    return Progress(state["history"], state["best_val"], state["best_epoch"], state["epoch"] + 1,
                    state["wall_seconds"])


def train_epochs(run: Run, out_dir: Path, progress: Progress,
                 on_epoch_end: Callable[[int], None] | None) -> dict:
    """The epochs from `progress` on, saving the checkpoints and history after each, then train.json."""
    cfg, last_path = run.cfg, out_dir / "last.pt"
    model, data, optimizer, scheduler = run.model, run.data, run.optimizer, run.scheduler
    history, best_val, best_epoch = progress.history, progress.best_val, progress.best_epoch
    wall = progress.wall_seconds
    for epoch in range(progress.next_epoch, cfg["epochs"] + 1):
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train_one_epoch(run, epoch)
        seconds = time.perf_counter() - started
        if scheduler is not None and not run.scheduler_per_batch:
            scheduler.step()
        val_loss, val_pred = predict(model, data.val_x, data.val_y, run.prepare, cfg, run.amp)
        test_loss, test_pred = predict(model, data.test_x, data.test_y, run.prepare, cfg, run.amp)
        val_acc = accuracy(val_pred, data.val_y)
        history.append({
            "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_acc": val_acc,
            "test_loss": test_loss, "test_acc": accuracy(test_pred, data.test_y),
            "lr": lr, "seconds": seconds, "images_per_sec": len(data.train_y) / seconds,
        })
        wall += time.perf_counter() - started
        # Select on validation (the last epoch when there is none); ties keep the earlier epoch.
        score = val_acc if len(data.val_y) else float(epoch)
        if score > best_val:
            best_val, best_epoch = score, epoch
            atomic_torch_save(out_dir / "model.pt", _unwrap(model).state_dict())
        atomic_torch_save(last_path, {
            "config": cfg, "epoch": epoch, "model": _unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": run.scaler.state_dict(), "rng": runtime.rng_states(),
            "history": history, "best_val": best_val, "best_epoch": best_epoch, "wall_seconds": wall,
        })
        atomic_write_text(out_dir / "history.csv", history_csv(history))
        if on_epoch_end is not None:
            on_epoch_end(epoch)

    record = {
        "experiment": cfg["name"], "config": cfg, "dataset": cfg["dataset"], "model": cfg["model"],
        "parameters": count_parameters(model), "flops_per_image": run.flops_per_image,
        "device": str(run.device), "precision": run.precision, "threads": torch.get_num_threads(),
        "versions": runtime.versions(), "wall_seconds": wall,
        "images_per_sec": sum(r["images_per_sec"] for r in history) / len(history),
        "peak_memory_mb": runtime.peak_memory_mb(run.device),
        "data_verified": data.verified, "best_epoch": best_epoch, "epochs": cfg["epochs"],
        "train_size": len(data.train_y), "val_size": len(data.val_y), "test_size": len(data.test_y),
    }
    atomic_write_json(out_dir / "train.json", record)
    return record


def _unwrap(model):
    return getattr(model, "_orig_mod", model)  # torch.compile wraps the module
