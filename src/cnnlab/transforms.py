"""Re-exports of cnnlab.data.transforms for train.py and plots.py; to be removed once they import
cnnlab.data.transforms."""

from cnnlab.data.transforms import (
    cutmix,
    mixup,
    normalize,
    permute_pixels,
    pixel_permutation,
    random_crop_flip,
    to_float,
)

__all__ = ["cutmix", "mixup", "normalize", "permute_pixels", "pixel_permutation", "random_crop_flip",
           "to_float"]
