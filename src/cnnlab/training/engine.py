"""Setting up a run: device, precision, seeds, data on the device, model, optimizer, and prediction.

`set_up` makes what evaluating needs (a `Session`), `set_up_training` adds what training needs (a
`TrainingSession`). `cnnlab train`, `cnnlab evaluate`, `cnnlab plan`'s calibration and
benchmarks/bench.py all start here, so they run the same model on the same batches.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.data import transforms
from cnnlab.data.batches import BatchPreparer, StudyData, load_study_data
from cnnlab.errors import CnnlabError
from cnnlab.models import MODEL_INPUT_SHAPES, create_model, init_weights
from cnnlab.training import runtime

EVAL_BATCH_FLOOR = 1024  # evaluation has no batch-dependent layers, so bigger batches only save time


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
    """The batch transforms, on the data's device, producing channels-last batches like the model
    build_model makes."""
    return BatchPreparer(cfg, data.info, channels_last=True, device=data.train_x.device)


def loss_function(name: str) -> Callable:
    return F.nll_loss if name == "nll" else F.cross_entropy


def mix_batch(x: torch.Tensor, y: torch.Tensor, cfg: dict, generator: torch.Generator):
    """MixUp or CutMix as the recipe asks. Returns the images and the (weight, labels) pairs whose
    weighted losses add up to the batch's loss: one pair with weight 1 when nothing is mixed."""
    if cfg["mix"] == "none":
        return x, [(1.0, y)]
    mix = transforms.mixup if cfg["mix"] == "mixup" else transforms.cutmix
    x, y, partner_y, lam = mix(x, y, cfg["mix_alpha"], generator)
    return x, [(lam, y), (1 - lam, partner_y)]


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


def accuracy(predicted: torch.Tensor, y: torch.Tensor) -> float:
    return (predicted == y).float().mean().item() if len(y) else float("nan")


@dataclass
class Session:
    """What evaluating an experiment works with, set up by `set_up`."""

    cfg: dict
    device: torch.device
    precision: str
    data: StudyData
    model: torch.nn.Module  # compiled when a TrainingSession's cfg["compile"]
    prepare: BatchPreparer

    def amp(self):
        """Autocast to the session's precision (no-op in fp32)."""
        return runtime.autocast(self.device, self.precision)

    @torch.inference_mode()
    def predict(self, x_all: torch.Tensor, y_all: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Mean loss and the predicted class of every image."""
        self.model.eval()
        loss_fn = loss_function(self.cfg["loss"])
        batch_size = max(self.cfg["test_batch_size"], EVAL_BATCH_FLOOR)
        total_loss, predictions = torch.zeros((), dtype=torch.float64, device=y_all.device), []
        for start in range(0, len(y_all), batch_size):
            x = self.prepare(x_all[start:start + batch_size], train=False)
            y = y_all[start:start + batch_size]
            with self.amp():
                output = self.model(x).float()
            total_loss += loss_fn(output, y, reduction="sum")
            predictions.append(output.argmax(1))
        return total_loss.item() / max(len(y_all), 1), torch.cat(predictions) if predictions else y_all[:0]


@dataclass
class TrainingSession(Session):
    """A Session plus what training adds, set up by `set_up_training`."""

    optimizer: torch.optim.Optimizer
    scheduler: object
    scheduler_per_batch: bool
    scaler: torch.amp.GradScaler
    flops_per_image: int


def set_up(cfg: dict, threads: int | None = None, data: StudyData | None = None,
           precision: str | None = None) -> Session:
    """Threads, device, precision (`precision`, else picked from cfg), seeds, data on the device, the
    model and its batch preparer. `data` replaces the experiment's own (calibration, benchmarks)."""
    runtime.set_threads(threads)
    runtime.set_determinism(cfg["deterministic"])  # first: picking the precision may start CUDA
    device = runtime.pick_device(cfg["device"])
    if precision is None:
        precision = runtime.pick_precision(cfg["precision"], device)
    runtime.seed_everything(cfg["seed"])
    runtime.reset_peak_memory(device)
    data = (data if data is not None else load_study_data(cfg)).to(device)
    model = build_model(cfg, len(data.info.classes), device)
    if MODEL_INPUT_SHAPES[cfg["model"]][0] != data.info.channels:
        raise CnnlabError(f"model {cfg['model']} takes {MODEL_INPUT_SHAPES[cfg['model']][0]}-channel "
                          f"images but {cfg['dataset']} has {data.info.channels}; pick a matching model")
    return Session(cfg, device, precision, data, model, make_preparer(cfg, data))


def set_up_training(cfg: dict, threads: int | None = None, data: StudyData | None = None) -> TrainingSession:
    """`set_up`, then the FLOPs count, optimizer, compiled model, scheduler and gradient scaler."""
    session = set_up(cfg, threads, data)
    flops = flops_per_image(session.model, cfg["model"], session.device)
    optimizer = make_optimizer(cfg, session.model)
    model = torch.compile(session.model) if cfg["compile"] else session.model
    steps_per_epoch = -(-len(session.data.train_y) // cfg["batch_size"])
    scheduler, per_batch = make_scheduler(cfg, optimizer, steps_per_epoch)
    scaler = torch.amp.GradScaler(session.device.type, enabled=session.precision == "fp16")
    return TrainingSession(**{**vars(session), "model": model}, optimizer=optimizer, scheduler=scheduler,
                           scheduler_per_batch=per_batch, scaler=scaler, flops_per_image=flops)
