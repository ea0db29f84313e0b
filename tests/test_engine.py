"""The engine seam and the random streams: who may import the training code, who may seed what."""

import ast
from pathlib import Path

import torch

from cnnlab import random_streams
from cnnlab.data import transforms

SRC = Path(__file__).resolve().parents[1] / "src" / "cnnlab"
# cnnlab.training.train is the training loop only; what a run sets up is cnnlab.training.engine's.
# The drivers of a training run import it: the CLI, and the calibration of `cnnlab plan`.
TRAIN_IMPORTERS = {"cli.py", "pipeline/calibrate.py"}
# Where random numbers may be seeded: the named streams, and runtime.seed_everything's global seed.
SEEDERS = {"random_streams.py", "training/runtime.py"}


def modules():
    return {str(path.relative_to(SRC)): ast.parse(path.read_text()) for path in SRC.rglob("*.py")}


def imports_train(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name == "cnnlab.training.train"
                                                for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (
                node.module == "cnnlab.training.train"
                or node.module == "cnnlab" and any(alias.name == "train" for alias in node.names)):
            return True
    return False


def seeds_randomness(tree: ast.Module) -> bool:
    """Calls `manual_seed` or builds a `Generator`: a random stream made outside random_streams."""
    calls = (node.func for node in ast.walk(tree) if isinstance(node, ast.Call))
    names = {func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None) for func in calls}
    return bool(names & {"manual_seed", "Generator"})


def test_only_the_drivers_import_the_training_loop():
    importers = {name for name, tree in modules().items() if imports_train(tree)}
    assert importers <= TRAIN_IMPORTERS, importers - TRAIN_IMPORTERS


def test_random_streams_are_made_in_one_place():
    seeders = {name for name, tree in modules().items() if seeds_randomness(tree)}
    assert seeders <= SEEDERS, seeders - SEEDERS


def test_random_streams_draw_what_they_always_drew():
    """The values of the formulas the streams had before they were named (seed 7, epoch 3): a change
    here changes every result of the study."""
    assert random_streams.epoch_seed(7, 3) == 7 * 100_003 + 3
    epoch = torch.randperm(8, generator=random_streams.epoch_generator(7, 3)).tolist()
    assert epoch == [5, 6, 3, 1, 0, 2, 4, 7]
    random_streams.seed_dropout(7, 3)
    assert torch.randint(0, 1000, (4,)).tolist() == [469, 697, 29, 498]
    split = torch.randperm(8, generator=random_streams.validation_split_generator(7)).tolist()
    assert split == [7, 0, 3, 4, 1, 5, 2, 6]
    assert transforms.pixel_permutation(7, 8).tolist() == [7, 0, 3, 4, 1, 5, 2, 6]
    assert torch.randperm(8, generator=random_streams.augmentation_figure_generator(7)).tolist() == split
    stand_in = random_streams.stand_in_data_generator()
    assert torch.randint(0, 256, (4,), generator=stand_in).tolist() == [172, 47, 117, 192]
