"""The on-disk formats of the datasets: one module per format, named by `DatasetInfo.format`.

A format module provides two functions:

- `copy_from(info, folders, files_dir) -> str`: copy the dataset's files (the names of
  `info.digests`), decompressed, into `files_dir` from the first of `folders` that holds them, and
  say where they came from; raise `Unavailable` (saying where it looked) when none does.
- `parse(info, contents) -> (train_x, train_y, test_x, test_y)`: from {file name: bytes} to uint8
  images [N, C, H, W] and integer labels [N] as NumPy arrays, refusing damaged files with a
  CnnlabError that names the file.

Below: what several formats share.
"""

import gzip
import hashlib
import importlib
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

from cnnlab.data.catalog import DatasetInfo
from cnnlab.errors import CnnlabError


class Unavailable(Exception):
    """This source cannot provide the dataset; the next one is tried."""


def format_of(info: DatasetInfo) -> ModuleType:
    """The module that reads `info`'s files (a test checks that every declared one exists)."""
    return importlib.import_module(f"{__name__}.{info.format}")


def file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


def copy_decompressed(source: Path, destination: Path) -> None:
    with open(destination, "wb") as writer:
        writer.writelines(_decompressed_chunks(source))


def _decompressed_chunks(source: Path) -> Iterator[bytes]:
    """The content of `source` (raw, .gz or .xz) in 1 MiB pieces. Only reading errors become
    "cannot read": those of writing the pieces are raised where they are written."""
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(source.suffix, open)
    try:
        with opener(source, "rb") as reader:
            while chunk := reader.read(1 << 20):
                yield chunk
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
        raise CnnlabError(f"cannot read {source}: {error}") from None


def check_labels(labels: np.ndarray, file: str, info: DatasetInfo) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= len(info.classes)):
        raise CnnlabError(f"{file} has labels outside 0-{len(info.classes) - 1}")
