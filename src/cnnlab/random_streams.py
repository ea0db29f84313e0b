"""The study's random streams, named in one place.

Every random choice a run makes draws from a stream of its own, seeded from the study's `seed` alone
(and the epoch, where the stream changes every epoch). So no stream depends on what ran before it:
a resumed run, a second evaluation or a plot draws exactly the numbers the first run drew.
The global generators (Python's, NumPy's, torch's) are seeded once per run by
`runtime.seed_everything`; the model's initial weights come from torch's.
"""

import torch

EPOCH_STRIDE = 100_003  # a prime: (seed, epoch) pairs give distinct seeds for epochs below it


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator of its own, untouched by anything else that draws random numbers."""
    return torch.Generator().manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * EPOCH_STRIDE + epoch


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """One epoch's batch order, crops and flips, and MixUp/CutMix draws."""
    return seeded_generator(epoch_seed(seed, epoch))


def seed_dropout(seed: int, epoch: int) -> None:
    """One epoch's dropout masks: layers draw them from torch's global generator, so seed that."""
    torch.manual_seed(epoch_seed(seed, epoch))


def validation_split_generator(seed: int) -> torch.Generator:
    """Which training images are held out for validation."""
    return seeded_generator(seed)


def pixel_permutation_generator(seed: int) -> torch.Generator:
    """The one fixed permutation of pixel positions of the permuted experiments (E2b)."""
    return seeded_generator(seed)


def augmentation_figure_generator(seed: int) -> torch.Generator:
    """The crops, flips and mixes shown in an experiment's augmentation figure."""
    return seeded_generator(seed)


def shifted_test_generator(seed: int) -> torch.Generator:
    """The direction each test image is moved in for `shifted_test_acc` (question 4)."""
    return seeded_generator(seed)


def conv1x1_check_generator(seed: int) -> torch.Generator:
    """The Linear weights and feature maps of the 1x1-conv = Linear check (question 4)."""
    return seeded_generator(seed)


def stand_in_data_generator() -> torch.Generator:
    """Random images standing in for a dataset where only the speed counts (calibration, benchmarks)."""
    return seeded_generator(0)
