"""`cnnlab train EXP`: train one experiment and keep the validation-selected checkpoint.

The hot loop does no per-image Python work: the images sit on the model's device as one uint8
tensor, each batch is indexed, converted and augmented there in a few tensor operations, and the
loss and accuracy of every step stay on the device until the epoch's figures are needed.
docs/performance.md has the measurements behind the choices made here.
"""

import csv
import io
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from cnnlab import random_streams
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_torch_save, atomic_write_json, atomic_write_text, held_folder
from cnnlab.models import count_parameters
from cnnlab.results.provenance import code_digest
from cnnlab.results.records import (
    EVALUATION_FILES,
    HISTORY_COLUMNS,
    TRAIN_FILES,
    check_owner,
    check_same_recipe,
    first_line,
    load_checkpoint,
    recorded_experiment,
    require_keys,
)
from cnnlab.training import runtime
from cnnlab.training.engine import TrainingSession, accuracy, loss_function, mix_batch, set_up_training

CHECKPOINT_KEYS = ("config", "epoch", "model", "optimizer", "scheduler", "scaler", "rng", "history",
                   "best_val", "best_epoch", "wall_seconds")  # what last.pt holds
CHECK_EVERY = 50  # steps between looks at the running loss (a look waits for the device)
# A new run trains in this subfolder of its run folder and replaces the run there only once it has
# finished: a run that diverges or fails leaves the earlier run as it was. An interrupted one
# (Ctrl-C, kill) leaves its last.pt there for --resume.
STAGING = ".training"


class TrainingDiverged(CnnlabError):
    pass


def train(cfg: dict, out_dir: Path, resume: bool = False, threads: int | None = None,
          on_epoch_end: Callable[[int], None] | None = None) -> dict:
    """Train `cfg`'s experiment into `out_dir`; returns what train.json records.

    Nothing in `out_dir` changes until every check has passed: the parameters, device, data and
    model (set_up_training), the folder (free, writable, not another experiment's) and, with
    `resume`, last.pt. A new run replaces the earlier one only when it has finished (STAGING).
    """
    out_dir = Path(out_dir)
    last_path = resume_point(out_dir)
    if resume and last_path is None:
        raise CnnlabError(f"--resume: {out_dir / 'last.pt'} does not exist; train without --resume first")
    session = set_up_training(cfg, threads)
    with held_folder(out_dir, create=True):
        if resume:
            work_dir, progress = last_path.parent, restore(last_path, session)
        else:
            check_owner(out_dir, recorded_experiment(out_dir), cfg)
            work_dir, progress = empty_folder(out_dir / STAGING), Progress()
        try:
            record = train_epochs(session, work_dir, progress, on_epoch_end)
        except CnnlabError:  # diverged: nothing worth resuming
            if work_dir != out_dir:
                shutil.rmtree(work_dir)
            raise
        if work_dir != out_dir:
            replace_run(work_dir, out_dir)
        return record


def resume_point(out_dir: Path) -> Path | None:
    """The last.pt that --resume continues: an unfinished new run's, else one in the run folder itself."""
    for path in (out_dir / STAGING / "last.pt", out_dir / "last.pt"):
        if path.is_file():
            return path
    return None


def empty_folder(folder: Path) -> Path:
    """`folder`, made anew (an abandoned run's files go; a link is removed, never followed)."""
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    return folder


def replace_run(finished: Path, out_dir: Path) -> None:
    """Move the finished run's files from `finished` into `out_dir`, replacing the earlier run's.
    train.json goes last: until it is there, the folder holds no finished run to keep."""
    for name in ("train.json", *EVALUATION_FILES):  # the earlier run's evaluation no longer applies
        (out_dir / name).unlink(missing_ok=True)
    for name in TRAIN_FILES:  # train.json is the last of them
        os.replace(finished / name, out_dir / name)
    finished.rmdir()


@dataclass
class Progress:
    """Where a run stands: a new one at epoch 1, a resumed one where its last.pt left off."""

    history: list[dict] = field(default_factory=list)
    best_val: float = -1.0
    best_epoch: int = 0
    next_epoch: int = 1
    wall_seconds: float = 0.0


def restore(last_path: Path, session: TrainingSession) -> Progress:
    """Put the model, optimizer, scheduler, scaler and generators back as last.pt saved them."""
    cfg, fix = session.cfg, f"delete it and run `cnnlab train {session.cfg['name']}` without --resume"
    state = load_checkpoint(last_path, fix)
    require_keys(state, CHECKPOINT_KEYS, last_path, fix)
    require_keys(state["config"], ("name",), last_path, fix)
    check_owner(last_path.parent, state["config"]["name"], cfg)
    check_same_recipe(state["config"], cfg, last_path,
                      "resume with the same params.yaml and --set values, or train without --resume")
    try:
        _unwrap(session.model).load_state_dict(state["model"])
        session.optimizer.load_state_dict(state["optimizer"])
        if session.scheduler is not None:
            session.scheduler.load_state_dict(state["scheduler"])
        session.scaler.load_state_dict(state["scaler"])
        runtime.set_rng_states(state["rng"])
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise CnnlabError(f"{last_path} does not fit the model and optimizer of {cfg['name']} "
                          f"({first_line(err)}); {fix}") from None
    return Progress(state["history"], state["best_val"], state["best_epoch"], state["epoch"] + 1,
                    state["wall_seconds"])


def train_epochs(session: TrainingSession, out_dir: Path, progress: Progress,
                 on_epoch_end: Callable[[int], None] | None) -> dict:
    """The epochs from `progress` on, saving the checkpoints and history after each, then train.json."""
    machine = runtime.machine()
    for epoch in range(progress.next_epoch, session.cfg["epochs"] + 1):
        started = time.perf_counter()
        row = run_epoch(session, epoch)
        progress.history.append(row)
        progress.wall_seconds += time.perf_counter() - started
        # Select on validation (the last epoch when there is none); ties keep the earlier epoch.
        score = row["val_acc"] if len(session.data.val_y) else float(epoch)
        if score > progress.best_val:
            progress.best_val, progress.best_epoch = score, epoch
            atomic_torch_save(out_dir / "model.pt", _unwrap(session.model).state_dict())
        save_checkpoint(out_dir / "last.pt", session, progress, epoch)
        atomic_write_text(out_dir / "history.csv", history_csv(progress.history))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    record = train_record(session, progress, machine)
    atomic_write_json(out_dir / "train.json", record)
    return record


def run_epoch(session: TrainingSession, epoch: int) -> dict:
    """Train one epoch, step an epoch-wise scheduler, validate and test: the epoch's history row."""
    data = session.data
    lr = session.optimizer.param_groups[0]["lr"]
    started = time.perf_counter()
    train_loss, train_acc = train_one_epoch(session, epoch)
    seconds = time.perf_counter() - started
    if session.scheduler is not None and not session.scheduler_per_batch:
        session.scheduler.step()
    val_loss, val_pred = session.predict(data.val_x, data.val_y)
    test_loss, test_pred = session.predict(data.test_x, data.test_y)
    return {
        "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
        "val_loss": val_loss, "val_acc": accuracy(val_pred, data.val_y),
        "test_loss": test_loss, "test_acc": accuracy(test_pred, data.test_y),
        "lr": lr, "seconds": seconds, "images_per_sec": len(data.train_y) / seconds,
    }


def batch_order(order: str, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The training images' indices in the order of this epoch's batches (`order:` in params.yaml)."""
    if order == "shuffled":
        return torch.randperm(len(labels), generator=generator)
    if order == "class_sorted":  # all 0s, then all 1s, ...; within a class the file's order
        return torch.sort(labels, stable=True).indices
    return torch.arange(len(labels))


def train_one_epoch(session: TrainingSession, epoch: int) -> tuple[float, float]:
    """One pass over the training split; returns its mean loss and accuracy."""
    model, data, cfg, optimizer = session.model, session.data, session.cfg, session.optimizer
    model.train()
    generator = random_streams.epoch_generator(cfg["seed"], epoch)
    random_streams.seed_dropout(cfg["seed"], epoch)
    n, batch_size = len(data.train_y), cfg["batch_size"]
    order = batch_order(cfg["order"], data.train_y, generator).to(session.device)
    loss_fn = loss_function(cfg["loss"])
    steps = -(-n // batch_size)
    # Summed loss and correct count of every step, kept on the device: reading them each step
    # would make the host wait for the device.
    losses = torch.zeros(steps, dtype=torch.float64, device=session.device)
    correct = torch.zeros(steps, dtype=torch.int64, device=session.device)
    bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg['epochs']}", unit="batch", leave=False,
               disable=not sys.stderr.isatty())
    for step in bar:
        idx = order[step * batch_size:(step + 1) * batch_size]
        x, y = session.prepare(data.train_x[idx], train=True, generator=generator), data.train_y[idx]
        x, targets = mix_batch(x, y, cfg, generator)
        optimizer.zero_grad(set_to_none=True)
        with session.amp():
            output = model(x)
            loss = sum(weight * loss_fn(output.float(), labels) for weight, labels in targets)
        session.scaler.scale(loss).backward()
        session.scaler.step(optimizer)
        session.scaler.update()
        if session.scheduler_per_batch:
            session.scheduler.step()
        losses[step] = loss.detach() * len(y)
        correct[step] = (output.argmax(1) == y).sum()
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            check_finite(losses[:step + 1], cfg, epoch)
            if not bar.disable:  # each figure shown waits for the device once more
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


def save_checkpoint(last_path: Path, session: TrainingSession, progress: Progress, epoch: int) -> None:
    """last.pt: all that `restore` needs to go on after `epoch` as if never stopped."""
    scheduler = session.scheduler
    atomic_torch_save(last_path, {
        "config": session.cfg, "epoch": epoch, "model": _unwrap(session.model).state_dict(),
        "optimizer": session.optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": session.scaler.state_dict(), "rng": runtime.rng_states(),
        "history": progress.history, "best_val": progress.best_val, "best_epoch": progress.best_epoch,
        "wall_seconds": progress.wall_seconds,
    })


def history_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def train_record(session: TrainingSession, progress: Progress, machine: dict) -> dict:
    """What train.json records: the run's settings, where it ran, its cost, and the chosen epoch.
    `machine` is runtime.machine() as training started; the load average at its end joins it."""
    cfg, data, history = session.cfg, session.data, progress.history
    return {
        "experiment": cfg["name"], "config": cfg, "dataset": cfg["dataset"], "model": cfg["model"],
        "parameters": count_parameters(session.model), "flops_per_image": session.flops_per_image,
        "device": str(session.device), "precision": session.precision, "threads": torch.get_num_threads(),
        "versions": runtime.versions(), "wall_seconds": progress.wall_seconds,
        "images_per_sec": sum(r["images_per_sec"] for r in history) / len(history),
        "peak_memory_mb": runtime.peak_memory_mb(session.device),
        "data_verified": data.verified, "best_epoch": progress.best_epoch, "epochs": cfg["epochs"],
        "train_size": len(data.train_y), "val_size": len(data.val_y), "test_size": len(data.test_y),
        "code_sha256": code_digest("train"),
        "machine": {**machine, "load_average_end": runtime.load_average(), "gpu": gpu_name(session.device)},
    }


def gpu_name(device: torch.device) -> str | None:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else None


def _unwrap(model):
    return getattr(model, "_orig_mod", model)  # torch.compile wraps the module
