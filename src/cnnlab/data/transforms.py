"""Transforms on whole batches, on the model's device.

The labs apply torchvision transforms to one PIL image at a time; these do the same arithmetic on a
uint8 batch [B, C, H, W] at once (tests check them against torchvision).
"""

import numpy as np
import torch

from cnnlab import random_streams

# Normalize's statistics other than the dataset's own (Q2, `normalize:` in params.yaml), per RGB channel.
OTHER_STATISTICS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # torchvision's pretrained models
    "wrong": ((0.9, 0.9, 0.9), (0.05, 0.05, 0.05)),  # badly wrong: a black pixel (0) becomes -18
}


def normalization(kind: str, mean, std, channels: int):
    """(mean, std) per channel for `normalize: kind`, given the dataset's own; None for `none`.

    The RGB values of OTHER_STATISTICS are averaged for 1-channel images."""
    if kind == "none":
        return None
    if kind == "dataset":
        return tuple(mean), tuple(std)
    mean, std = OTHER_STATISTICS[kind]
    if channels == 1:
        return (sum(mean) / 3,), (sum(std) / 3,)
    return mean, std


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float [0, 1], like ToTensor."""
    return x.float().div_(255)


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Per-channel (x - mean) / std, like Normalize."""
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Numbers drawn on the host (on the run's CPU generators, so that a run draws the same on every
    device) moved to `device`. To a GPU through pinned memory, without waiting: a plain copy from
    pageable memory makes the host wait for the GPU's queue, once a batch."""
    if device.type != "cuda":
        return x.to(device)
    return x.pin_memory().to(device, non_blocking=True)


def random_crop_flip(x: torch.Tensor, padding: int, generator: torch.Generator,
                     flip: bool = True) -> torch.Tensor:
    """RandomCrop(size, padding) with zero fill, then (if `flip`) RandomHorizontalFlip(0.5), per image."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    top = to_device(torch.randint(0, 2 * padding + 1, (b,), generator=generator), x.device)
    left = to_device(torch.randint(0, 2 * padding + 1, (b,), generator=generator), x.device)
    rows = top[:, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = left[:, None] + torch.arange(w, device=x.device)  # [B, W]
    if flip:
        flipped = to_device(torch.rand(b, generator=generator) < 0.5, x.device)
        cols = torch.where(flipped[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None]
    crops = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return crops.permute(0, 3, 1, 2).contiguous()


def pixel_permutation(seed: int, num_pixels: int) -> torch.Tensor:
    """The one fixed permutation of pixel positions of E2b, drawn from its own seeded generator."""
    return torch.randperm(num_pixels, generator=random_streams.pixel_permutation_generator(seed))


def permute_pixels(x: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Move every image's pixels by the same permutation (all channels alike)."""
    flat = x.flatten(2)
    return flat[:, :, permutation.to(x.device)].view_as(x)


def _beta(alpha: float, generator: torch.Generator) -> float:
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator):
    """MixUp: blend each image with a partner; the loss mixes both labels with the same lambda.

    Returns (mixed images, labels, partner labels, lambda).
    """
    lam = _beta(alpha, generator)
    partner = to_device(torch.randperm(x.shape[0], generator=generator), x.device)
    return lam * x + (1 - lam) * x[partner], y, y[partner], lam


def cutmix(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator):
    """CutMix: paste a box from a partner image; lambda is corrected to the pasted area.

    Returns (mixed images, labels, partner labels, lambda).
    """
    _, _, h, w = x.shape
    lam = _beta(alpha, generator)
    partner = to_device(torch.randperm(x.shape[0], generator=generator), x.device)
    cut = (1 - lam) ** 0.5
    cy = int(torch.randint(0, h, (1,), generator=generator))
    cx = int(torch.randint(0, w, (1,), generator=generator))
    y0, y1 = max(cy - int(h * cut) // 2, 0), min(cy + int(h * cut) // 2, h)
    x0, x1 = max(cx - int(w * cut) // 2, 0), min(cx + int(w * cut) // 2, w)
    mixed = x.clone()
    mixed[:, :, y0:y1, x0:x1] = x[partner, :, y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    return mixed, y, y[partner], lam
