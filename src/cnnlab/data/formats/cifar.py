"""The CIFAR-10 python format: pickled batches of a dict, in a folder or in its .tar.gz archive.

The folder is the dataset's `folder` (cifar-10-batches-py), the archive its declared `archive`.
"""

import io
import pickle
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cnnlab.data.catalog import DatasetInfo
from cnnlab.data.formats import Unavailable, check_labels, copy_decompressed, file_digest
from cnnlab.errors import CnnlabError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"


def copy_from(info: DatasetInfo, folders: list[Path], files_dir: Path) -> str:
    """Copy the files from the first unpacked folder or archive in `folders`; says which."""
    for folder in folders:
        unpacked = folder / info.folder
        if all((unpacked / file).is_file() for file in info.digests):
            for file in info.digests:
                copy_decompressed(unpacked / file, files_dir / file)
            return str(unpacked)
        archive = folder / info.archive.name
        if archive.is_file():
            _extract(info, archive, files_dir)
            md5 = file_digest(archive, "md5")
            if md5 == info.archive.md5:
                return f"{archive} (the canonical archive)"
            return f"{archive} (archive MD5 {md5}, the canonical one's is {info.archive.md5})"
    places = ", ".join(str(folder) for folder in folders)
    raise Unavailable(f"no {info.archive.name} or complete {info.folder}/ in {places}")


def _extract(info: DatasetInfo, archive: Path, files_dir: Path) -> None:
    """Extract just the dataset's files, by name (so no member can write outside `files_dir`)."""
    extracted = set()
    for file, data in _members(info, archive):
        (files_dir / file).write_bytes(data)
        extracted.add(file)
    missing = [f"{info.folder}/{file}" for file in info.digests if file not in extracted]
    if missing:
        raise CnnlabError(f"{archive} lacks {', '.join(missing)}")


def _members(info: DatasetInfo, archive: Path) -> Iterator[tuple[str, bytes]]:
    """(file name, content) of the dataset's files in `archive` (a batch is 30 MB). Only reading
    errors become "cannot read": those of writing the files are raised where they are written."""
    wanted = {f"{info.folder}/{file}": file for file in info.digests}
    try:
        with tarfile.open(archive) as tar:
            for member in tar:  # one pass: a .tar.gz can only be read in order quickly
                file = wanted.get(posixpath.normpath(member.name))
                if file and member.isfile():
                    with tar.extractfile(member) as reader:
                        data = reader.read()
                    yield file, data
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise CnnlabError(f"cannot read {archive}: {error}") from None


def parse(info: DatasetInfo, contents: dict[str, bytearray]) -> tuple[np.ndarray, ...]:
    """train_x, train_y (the five training batches in order), test_x, test_y."""
    train = [_parse_batch(contents, file, info) for file in TRAIN_BATCHES]
    test_x, test_y = _parse_batch(contents, TEST_BATCH, info)
    train_x = np.concatenate([images for images, _ in train])
    train_y = np.concatenate([labels for _, labels in train])
    _parse_meta(contents[META], info)
    return train_x, train_y, test_x, test_y


class _CifarUnpickler(pickle.Unpickler):
    """A pickle may call any function it names: allow only those that rebuild NumPy arrays."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}")
        return super().find_class(module, name)


def _unpickle(data: bytearray, file: str) -> dict:
    # The canonical files are Python 2 pickles; latin1 maps their byte strings 1:1 to str,
    # as torchvision does, so the keys are "data", "labels", ...
    try:
        content = _CifarUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as error:  # a damaged pickle can fail in many ways
        raise CnnlabError(f"{file} is not a readable CIFAR-10 pickle: {error}") from None
    if not isinstance(content, dict):
        raise CnnlabError(f"{file} holds a {type(content).__name__}, not a CIFAR-10 dict")
    return content


def _parse_batch(contents: dict[str, bytearray], file: str,
                 info: DatasetInfo) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(contents[file], file)
    images, labels = batch.get("data"), batch.get("labels")
    pixels = info.channels * info.size * info.size
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8
            and images.ndim == 2 and images.shape[1] == pixels):
        raise CnnlabError(f"{file}: 'data' must be a uint8 array [N, {pixels}]")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = None
    if labels is None or labels.shape != (len(images),):
        raise CnnlabError(f"{file}: 'labels' must be a list of {len(images)} integers")
    check_labels(labels, file, info)
    # Each row holds the red, then the green, then the blue plane, each row-major: that is CHW.
    return images.reshape(-1, info.channels, info.size, info.size), labels


def _parse_meta(data: bytearray, info: DatasetInfo) -> None:
    meta = _unpickle(data, META)
    if len(meta.get("label_names", ())) != len(info.classes):
        raise CnnlabError(f"{META}: 'label_names' must list the {len(info.classes)} classes")
