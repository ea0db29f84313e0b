"""The study's data in memory: the seeded train/validation split, and batches ready for the model."""

from dataclasses import dataclass

import torch

from cnnlab import random_streams
from cnnlab.data import transforms
from cnnlab.data.catalog import DatasetInfo
from cnnlab.data.load import load
from cnnlab.errors import CnnlabError

CROP_PADDING = 4  # RandomCrop(32, padding=4) in the labs


@dataclass
class StudyData:
    """uint8 images [N, C, H, W] and int64 labels of the three splits, on one device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    info: DatasetInfo
    verified: bool

    def to(self, device: torch.device) -> "StudyData":
        tensors = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
        return StudyData(**{k: getattr(self, k).to(device) for k in tensors},
                         info=self.info, verified=self.verified)


def load_study_data(cfg: dict) -> StudyData:
    """Hold `val_size` seeded-random training images out for checkpoint selection.

    The rest keep the dataset's own order, so `order: file` sees what a plain DataLoader sees.
    """
    splits = load(cfg["dataset"], cfg["data"]["root"])
    n = len(splits.train_y)
    val_size = cfg["val_size"]
    if val_size >= n:
        raise CnnlabError(f"val_size: {val_size} leaves no training images (the training set has {n})")
    order = torch.randperm(n, generator=random_streams.validation_split_generator(cfg["seed"]))
    val_idx = order[:val_size].sort().values
    rest = order[val_size:]
    if cfg["limit_train"]:
        rest = rest[: cfg["limit_train"]]
    train_idx = rest.sort().values
    test_x, test_y = splits.test_x, splits.test_y
    if cfg["limit_test"]:
        test_x, test_y = test_x[: cfg["limit_test"]], test_y[: cfg["limit_test"]]
    return StudyData(
        splits.train_x[train_idx], splits.train_y[train_idx],
        splits.train_x[val_idx], splits.train_y[val_idx],
        test_x, test_y, splits.info, splits.verified,
    )


class BatchPreparer:
    """uint8 batch → the float tensor the model sees: the transforms of the experiment's recipe."""

    def __init__(self, cfg: dict, info: DatasetInfo, channels_last: bool,
                 device: torch.device | str = "cpu"):
        self.augment = cfg["augment"]
        # The fixed tensors of every batch made on the batches' device once: made from Python
        # values or moved there at each batch, they would make the host wait for a GPU each time.
        statistics = transforms.normalization(cfg["normalize"], info.mean, info.std, info.channels)
        self.statistics = None if statistics is None else tuple(
            torch.tensor(values, dtype=torch.float32, device=device) for values in statistics)
        self.permutation = (
            transforms.pixel_permutation(cfg["seed"], info.size * info.size).to(device) if cfg["permute"]
            else None
        )
        self.channels_last = channels_last

    def __call__(self, x: torch.Tensor, train: bool, generator: torch.Generator | None = None):
        if train and self.augment != "none":
            x = transforms.random_crop_flip(x, CROP_PADDING, generator, flip=self.augment == "crop_flip")
        x = transforms.to_float(x)
        if self.statistics is not None:
            x = transforms.normalize(x, *self.statistics)
        if self.permutation is not None:
            x = transforms.permute_pixels(x, self.permutation)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
