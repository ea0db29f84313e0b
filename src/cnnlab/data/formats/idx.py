"""The IDX format of MNIST and Fashion-MNIST: four files of unsigned bytes, each with a small header."""

import math
import struct
from pathlib import Path

import numpy as np

from cnnlab.data.catalog import DatasetInfo
from cnnlab.data.formats import Unavailable, check_labels, copy_decompressed
from cnnlab.errors import CnnlabError

SUFFIXES = ("", ".gz", ".xz")  # a mirror may keep each file raw or compressed


def copy_from(info: DatasetInfo, folders: list[Path], files_dir: Path) -> str:
    """Decompress the IDX files from the first of `folders` that has all of them; returns it."""
    reasons = []
    for folder in folders:
        if not folder.is_dir():
            reasons.append(f"no folder {folder}")
            continue
        found = {}
        for file in info.digests:
            variants = [folder / (file + suffix) for suffix in SUFFIXES]
            found[file] = next((path for path in variants if path.is_file()), None)
        missing = [file for file, path in found.items() if path is None]
        if missing:
            reasons.append(f"{folder} lacks {', '.join(missing)} (raw, .gz or .xz)")
            continue
        for file, path in found.items():
            copy_decompressed(path, files_dir / file)
        return str(folder)
    raise Unavailable(" and ".join(reasons))


def parse(info: DatasetInfo, contents: dict[str, bytearray]) -> tuple[np.ndarray, ...]:
    """train_x, train_y, test_x, test_y from the files train-* and t10k-*."""
    arrays = []
    for prefix in ("train", "t10k"):
        images_file, labels_file = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        images = _parse_idx(contents[images_file], 3, images_file)
        labels = _parse_idx(contents[labels_file], 1, labels_file)
        if images.shape[1:] != (info.size, info.size):
            raise CnnlabError(f"{images_file} holds {images.shape[1:]} images, not "
                              f"{info.size}x{info.size}")
        if len(images) != len(labels):
            raise CnnlabError(f"{images_file} has {len(images)} images but "
                              f"{labels_file} {len(labels)} labels")
        check_labels(labels, labels_file, info)
        arrays += [images[:, np.newaxis], labels]
    return tuple(arrays)


def _parse_idx(data: bytearray, ndim: int, file: str) -> np.ndarray:
    """An IDX array of unsigned bytes: magic 00 00 08 <ndim>, then ndim big-endian sizes."""
    magic = bytes((0, 0, 0x08, ndim))
    header_size = 4 + 4 * ndim
    if len(data) < header_size or bytes(data[:4]) != magic:
        raise CnnlabError(f"{file} is not an IDX file of {ndim}-dimensional unsigned bytes "
                          f"(starts with {bytes(data[:4]).hex()}, expected {magic.hex()})")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    if len(data) - header_size != math.prod(shape):
        raise CnnlabError(f"{file}: its header announces shape {shape} ({math.prod(shape)} bytes) "
                          f"but {len(data) - header_size} bytes follow")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)
