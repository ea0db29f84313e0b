"""A fetched dataset in memory: its files checked against what `fetch` recorded, then parsed by
the module of its declared format into uint8 tensors."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.catalog import DatasetInfo, dataset_dir, dataset_info, read_provenance
from cnnlab.data.formats import format_of
from cnnlab.errors import CnnlabError


@dataclass
class Splits:
    """A dataset in memory: uint8 images [N, C, H, W] and int64 labels [N]."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    info: DatasetInfo
    verified: bool  # the files are the canonical ones (as recorded by `fetch`)


def load(name: str, root: str | Path = "data/raw") -> Splits:
    """The fetched dataset as tensors, after checking its files against the provenance."""
    info = dataset_info(name)
    folder = dataset_dir(name, root)
    recorded, verified = read_provenance(name, root)
    if verified:  # the canonical digests, not the record's, which could have been changed too
        algorithm, expected, problem = info.algorithm, info.digests, "is not the canonical file"
    else:
        algorithm, expected, problem = "sha256", recorded, "changed since it was fetched"
    contents = read_files(info, folder / info.subdir)
    for file, data in contents.items():
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected.get(file):
            raise CnnlabError(
                f"{folder / info.subdir / file} {problem} ({algorithm.upper()} {actual}, "
                f"expected {expected.get(file)}); delete {folder} and run `cnnlab fetch {name}` again"
            )
    train_x, train_y, test_x, test_y = format_of(info).parse(info, contents)
    return Splits(
        train_x=_tensor(train_x),
        train_y=_tensor(train_y.astype(np.int64)),
        test_x=_tensor(test_x),
        test_y=_tensor(test_y.astype(np.int64)),
        info=info,
        verified=verified,
    )


def read_files(info: DatasetInfo, files_dir: Path) -> dict[str, bytearray]:
    """The dataset's files, whole; bytearrays so that tensors can share their memory."""
    contents = {}
    for file in info.digests:
        path = files_dir / file
        if not path.is_file():
            raise CnnlabError(f"{path} is missing; delete its folder and run `cnnlab fetch {info.name}`")
        contents[file] = bytearray(path.read_bytes())
    return contents


def _tensor(array: np.ndarray) -> torch.Tensor:
    # torch shares the array's memory, which must then be writable (some pickles give read-only)
    return torch.from_numpy(array if array.flags.writeable else array.copy())
