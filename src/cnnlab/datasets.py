"""The study's datasets: fetch them into torchvision's on-disk layout, verified, and load them.

`fetch` tries, in order: an offline mirror folder, Debian's packaged Fashion-MNIST, and
torchvision's internet download. It builds the copy in a temporary folder inside `root`, checks
every file against the digests of the canonical files, and only then moves the folder into
place, so a failed fetch leaves nothing behind. One fetch at a time works in a data root (a lock),
and it first removes what fetches killed midway left there. `load` parses the files with NumPy
into uint8 tensors, after checking that they are still the files `fetch` recorded (the canonical
ones, if it recorded them as verified).
"""

import errno
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import math
import os
import pickle
import posixpath
import shutil
import struct
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_json


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    folder: str  # under the data root, as torchvision names it
    classes: tuple[str, ...]
    channels: int
    size: int  # images are size x size pixels
    mean: tuple[float, ...]  # per channel, of pixel values scaled to 0-1
    std: tuple[float, ...]


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", "MNIST", tuple(str(digit) for digit in range(10)), 1, 28, (0.1307,), (0.3081,)
    ),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist",
        "FashionMNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        1, 28, (0.2860,), (0.3530,),
    ),
    # The labs' statistics. The std is the widely copied (0.2023, 0.1994, 0.2010); the true
    # per-pixel std of the training set is about (0.247, 0.243, 0.262).
    "cifar10": DatasetInfo(
        "cifar10",
        "cifar-10-batches-py",
        ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        3, 32, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010),
    ),
}

# SHA-256 of the canonical, decompressed IDX files (as in ../shared/datasets/*/SHA256SUMS).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# MD5 of the canonical unpacked CIFAR-10 files, as torchvision publishes them
# (torchvision/datasets/cifar.py), and of the archive they come in.
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"

# Where the Debian package dataset-fashion-mnist installs the four canonical .gz files.
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

PROVENANCE_FILE = "cnnlab-fetch.json"

# Write failures that mean the disk (or the quota, or the file size limit) is full.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


@dataclass(frozen=True)
class _Storage:
    """How a dataset's files are stored, recognised and found."""

    subdir: str  # where the files sit inside root/<folder> ("" for directly in it)
    algorithm: str  # of the known digests
    digests: dict[str, str]  # file name -> digest of the canonical (decompressed) file
    mirror_subfolders: tuple[str, ...]  # where an offline mirror may keep it


_STORAGE = {
    "mnist": _Storage("raw", "sha256", MNIST_SHA256, ("mnist",)),
    "fashion_mnist": _Storage(
        "raw", "sha256", FASHION_MNIST_SHA256, ("fashion-mnist", "fashion_mnist")
    ),
    "cifar10": _Storage("", "md5", CIFAR10_MD5, ("", "cifar10", "cifar-10")),
}

MIRROR_HELP = (
    "To use an offline copy, point data.mirror in params.yaml, the variable CNNLAB_DATA_MIRROR "
    "or --mirror at a folder laid out like ../shared/datasets: mnist/ and fashion-mnist/ holding "
    "the four IDX files (raw, .gz or .xz), and cifar-10-python.tar.gz or cifar-10-batches-py/ "
    "(directly in it, or in cifar10/ or cifar-10/)."
)


@dataclass
class Splits:
    """A dataset in memory: uint8 images [N, C, H, W] and int64 labels [N]."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    info: DatasetInfo
    verified: bool  # the files are the canonical ones (as recorded by `fetch`)


def dataset_dir(name: str, root: str | Path) -> Path:
    """Where `fetch` puts dataset `name`: root/<name>/<torchvision's folder>, one folder per dataset
    (so that DVC and Snakemake can track each dataset on its own)."""
    return Path(root) / name / dataset_info(name).folder


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise CnnlabError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def fetch(name: str, root: str | Path = "data/raw", mirror: str | Path | None = None,
          verify: bool = True) -> dict:
    """Put dataset `name` under `root` in torchvision's layout and return its provenance.

    Sources, in order: the offline `mirror` folder, Debian's /usr/share/datasets/fashion-mnist
    (Fashion-MNIST only), torchvision's download. A source that has no copy is skipped; one whose
    copy is damaged stops the fetch with an error. With `verify` (the default) only the canonical
    files are accepted; without it other copies are too, recorded as `verified: false`. A folder
    already in place is checked, never replaced.
    """
    dataset_info(name)  # refuses an unknown name
    root = Path(root)
    try:
        with _locked(root, name):
            _remove_stale_staging(name, root)
            target = dataset_dir(name, root)
            if target.exists():
                return _adopt_existing(name, target, verify)
            return _fetch_new(name, root, mirror, verify)
    except OSError as error:  # reading a source fails with CnnlabError: this is about writing
        raise _write_error(name, root, error) from None


def _write_error(name: str, root: Path, error: OSError) -> CnnlabError:
    """One line for a data root that cannot be written: why, where, and what to do."""
    reason = "not a folder" if isinstance(error, FileExistsError) else error.strerror or str(error)
    if error.filename and Path(error.filename) != root:
        reason += f" ({error.filename})"
    fix = "free some space there" if error.errno in _NO_SPACE else "use a folder you can write to"
    return CnnlabError(f"cannot fetch {name} into {root}: {reason}; {fix}, "
                       f"or pass --root (data.root in params.yaml) another folder")


@contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    """Hold the data root's lock: one fetch at a time in `root`; another one waits.

    The lock is on the root folder itself (flock), not on a lock file: it adds no file to the
    root, nor to data/raw/<dataset>/, which DVC and Snakemake track (a file in it would change
    DVC's hash of the dataset), and the system releases it when its process ends, even by kill -9.
    `root` is created if needed, and stays (a fetch waiting on it would fail if it were removed).
    """
    root.mkdir(parents=True, exist_ok=True)
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{name}: another fetch is using {root}; waiting for it to finish", flush=True)
            fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # releases the lock


def _remove_stale_staging(name: str, root: Path) -> None:
    """Remove the staging folders of fetches of `name` that were killed midway. Only called under
    the lock: no fetch is running, so any staging folder is stale."""
    for stale in sorted(root.glob(f".fetch-{name}-*")):
        if stale.is_dir():
            shutil.rmtree(stale)
            print(f"{name}: removed {stale}, left by an interrupted fetch")


def _fetch_new(name: str, root: Path, mirror: str | Path | None, verify: bool) -> dict:
    """Build the copy in a staging folder in `root`, check it, then move it into place."""
    target = dataset_dir(name, root)
    staging = Path(tempfile.mkdtemp(prefix=f".fetch-{name}-", dir=root))
    try:
        copy = staging / target.name
        files_dir = copy / _STORAGE[name].subdir
        files_dir.mkdir(parents=True)
        source = _fill_from_first_source(name, files_dir, staging, mirror)
        provenance = _provenance(
            name, files_dir, source, verify,
            how_to_fix="Replace it with a good copy, or pass --no-verify (data.verify: false) "
                       "to use this copy, recorded as unverified.",
        )
        atomic_write_json(copy / PROVENANCE_FILE, provenance)
        target.parent.mkdir(exist_ok=True)
        os.replace(copy, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return provenance


def load(name: str, root: str | Path = "data/raw") -> Splits:
    """The fetched dataset as tensors, after checking its files against the provenance."""
    info = dataset_info(name)
    folder = dataset_dir(name, root)
    provenance_path = folder / PROVENANCE_FILE
    try:
        provenance = json.loads(provenance_path.read_text())
        recorded = dict(provenance["files"])
        verified = bool(provenance["verified"])
    except FileNotFoundError:
        raise CnnlabError(
            f"{name} has not been fetched into {root} (no {provenance_path}); "
            f"run `cnnlab fetch {name}` first"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise CnnlabError(
            f"{provenance_path} is damaged ({error}); delete {folder} and run `cnnlab fetch {name}`"
        ) from None

    storage = _STORAGE[name]
    if verified:  # the canonical digests, not the record's, which could have been changed too
        algorithm, expected, problem = storage.algorithm, storage.digests, "is not the canonical file"
    else:
        algorithm, expected, problem = "sha256", recorded, "changed since it was fetched"
    contents = _read_files(name, folder / storage.subdir)
    for file, data in contents.items():
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected.get(file):
            raise CnnlabError(
                f"{folder / storage.subdir / file} {problem} ({algorithm.upper()} {actual}, "
                f"expected {expected.get(file)}); delete {folder} and run `cnnlab fetch {name}` again"
            )
    train_x, train_y, test_x, test_y = _parse(name, contents)
    return Splits(
        train_x=_tensor(train_x),
        train_y=_tensor(train_y.astype(np.int64)),
        test_x=_tensor(test_x),
        test_y=_tensor(test_y.astype(np.int64)),
        info=info,
        verified=verified,
    )


def _tensor(array: np.ndarray) -> torch.Tensor:
    # torch shares the array's memory, which must then be writable (some pickles give read-only)
    return torch.from_numpy(array if array.flags.writeable else array.copy())


# ---- checking a copy ----

def _provenance(name: str, files_dir: Path, source: str, verify: bool, how_to_fix: str) -> dict:
    """The provenance record of the copy in `files_dir`; refuses a non-canonical one if `verify`."""
    storage = _STORAGE[name]
    sha256s, mismatches = {}, []
    for file, expected in storage.digests.items():
        path = files_dir / file
        sha256s[file] = _file_digest(path, "sha256")
        actual = sha256s[file] if storage.algorithm == "sha256" else _file_digest(path, "md5")
        if actual != expected:
            mismatches.append(
                f"{file} has {storage.algorithm.upper()} {actual}, expected {expected}"
            )
    if mismatches and verify:
        raise CnnlabError(
            f"{name} from {source} is not the canonical copy: {'; '.join(mismatches)}. {how_to_fix}"
        )
    if mismatches:
        _parse(name, _read_files(name, files_dir))  # a copy we cannot vouch for must at least parse
    return {"dataset": name, "source": source, "verified": not mismatches, "files": sha256s}


def _adopt_existing(name: str, target: Path, verify: bool) -> dict:
    """Check a dataset folder that is already in place (and record its provenance if missing)."""
    files_dir = target / _STORAGE[name].subdir
    missing = [file for file in _STORAGE[name].digests if not (files_dir / file).is_file()]
    if missing:
        raise CnnlabError(
            f"{target} exists but lacks {', '.join(missing)}; move it aside or delete it, "
            f"then run `cnnlab fetch {name}` again"
        )
    provenance = _provenance(
        name, files_dir, f"existing folder {target}", verify,
        how_to_fix=f"Delete {target} and run `cnnlab fetch {name}` again, or pass --no-verify "
                   "(data.verify: false) to keep this copy, recorded as unverified.",
    )
    state = "verified" if provenance["verified"] else "NOT verified"
    try:
        recorded = json.loads((target / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        recorded = None
    if (isinstance(recorded, dict) and recorded.get("files") == provenance["files"]
            and recorded.get("verified") == provenance["verified"]):
        print(f"{name}: {target} is already in place ({state}); nothing to do")
        return recorded
    atomic_write_json(target / PROVENANCE_FILE, provenance)
    print(f"{name}: {target} was already in place ({state}); recorded its provenance")
    return provenance


def _file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


# ---- sources ----

class _Unavailable(Exception):
    """This source cannot provide the dataset; the next one is tried."""


def _fill_from_first_source(name: str, files_dir: Path, scratch: Path,
                            mirror: str | Path | None) -> str:
    """Copy the dataset's files into `files_dir` from the first source that has them.

    Returns that source's description. `scratch` is a folder for temporary files.
    """
    sources = [("offline mirror", partial(_from_mirror, name, mirror))]
    if name == "fashion_mnist":
        sources.append(("Debian package dataset-fashion-mnist", _from_debian))
    sources.append(("internet", partial(_from_internet, name)))

    tried = []
    for number, (label, fill) in enumerate(sources, start=1):
        try:
            return fill(files_dir, scratch)
        except _Unavailable as missing:
            tried.append(f"({number}) {label}: {missing}")
    raise CnnlabError(f"could not fetch {name}; tried {'; '.join(tried)}. {MIRROR_HELP} To run "
                      f"the study without {name}, leave it out of `datasets` in params.yaml.")


def _from_mirror(name: str, mirror: str | Path | None, files_dir: Path, scratch: Path) -> str:
    if not mirror:
        raise _Unavailable("none given")
    mirror = Path(mirror)
    if not mirror.is_dir():
        raise _Unavailable(f"{mirror} is not a folder")
    candidates = [mirror / subfolder for subfolder in _STORAGE[name].mirror_subfolders]
    if name == "cifar10":
        return f"offline mirror {_cifar10_from_folders(candidates, files_dir)}"
    return f"offline mirror {_idx_from_folders(name, candidates, files_dir)}"


def _from_debian(files_dir: Path, scratch: Path) -> str:
    if not FASHION_MNIST_DEBIAN_DIR.is_dir():
        raise _Unavailable(
            f"{FASHION_MNIST_DEBIAN_DIR} not found (apt-get install dataset-fashion-mnist)"
        )
    folder = _idx_from_folders("fashion_mnist", [FASHION_MNIST_DEBIAN_DIR], files_dir)
    return f"Debian package dataset-fashion-mnist ({folder})"


def _from_internet(name: str, files_dir: Path, scratch: Path) -> str:
    import torchvision  # only this source needs it, and it is slow to import

    dataset_class = {
        "mnist": torchvision.datasets.MNIST,
        "fashion_mnist": torchvision.datasets.FashionMNIST,
        "cifar10": torchvision.datasets.CIFAR10,
    }[name]
    download_root = scratch / "download"
    try:
        dataset_class(download_root, train=True, download=True)  # checks its own MD5s
    except (RuntimeError, OSError) as error:  # no network, or a download that failed its check
        if getattr(error, "errno", None) in _NO_SPACE:
            raise  # a full disk is the data root's problem, not the download's
        raise _Unavailable(f"torchvision's download failed: {' '.join(str(error).split())}") \
            from None
    downloaded = download_root / DATASETS[name].folder / _STORAGE[name].subdir
    for file in _STORAGE[name].digests:
        os.replace(downloaded / file, files_dir / file)
    return "internet (torchvision download)"


def _idx_from_folders(name: str, folders: list[Path], files_dir: Path) -> str:
    """Decompress the IDX files from the first of `folders` that has all of them; returns it."""
    reasons = []
    for folder in folders:
        if not folder.is_dir():
            reasons.append(f"no folder {folder}")
            continue
        found = {}
        for file in _STORAGE[name].digests:
            variants = [folder / (file + suffix) for suffix in ("", ".gz", ".xz")]
            found[file] = next((path for path in variants if path.is_file()), None)
        missing = [file for file, path in found.items() if path is None]
        if missing:
            reasons.append(f"{folder} lacks {', '.join(missing)} (raw, .gz or .xz)")
            continue
        for file, path in found.items():
            _copy_decompressed(path, files_dir / file)
        return str(folder)
    raise _Unavailable(" and ".join(reasons))


def _copy_decompressed(source: Path, destination: Path) -> None:
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


def _cifar10_from_folders(folders: list[Path], files_dir: Path) -> str:
    """Copy CIFAR-10 from the first unpacked folder or archive in `folders`; says which."""
    for folder in folders:
        unpacked = folder / "cifar-10-batches-py"
        if all((unpacked / file).is_file() for file in CIFAR10_MD5):
            for file in CIFAR10_MD5:
                _copy_decompressed(unpacked / file, files_dir / file)
            return str(unpacked)
        archive = folder / CIFAR10_ARCHIVE
        if archive.is_file():
            _extract_cifar10(archive, files_dir)
            md5 = _file_digest(archive, "md5")
            if md5 == CIFAR10_ARCHIVE_MD5:
                return f"{archive} (the canonical archive)"
            return f"{archive} (archive MD5 {md5}, the canonical one's is {CIFAR10_ARCHIVE_MD5})"
    places = ", ".join(str(folder) for folder in folders)
    raise _Unavailable(f"no {CIFAR10_ARCHIVE} or complete cifar-10-batches-py/ in {places}")


def _extract_cifar10(archive: Path, files_dir: Path) -> None:
    """Extract just the CIFAR-10 files, by name (so no member can write outside `files_dir`)."""
    extracted = set()
    for file, data in _cifar10_members(archive):
        (files_dir / file).write_bytes(data)
        extracted.add(file)
    missing = [f"cifar-10-batches-py/{file}" for file in CIFAR10_MD5 if file not in extracted]
    if missing:
        raise CnnlabError(f"{archive} lacks {', '.join(missing)}")


def _cifar10_members(archive: Path) -> Iterator[tuple[str, bytes]]:
    """(file name, content) of the CIFAR-10 files in `archive` (a batch is 30 MB). Only reading
    errors become "cannot read": those of writing the files are raised where they are written."""
    wanted = {f"cifar-10-batches-py/{file}": file for file in CIFAR10_MD5}
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


# ---- parsing ----

def _read_files(name: str, files_dir: Path) -> dict[str, bytearray]:
    """The dataset's files, whole; bytearrays so that tensors can share their memory."""
    contents = {}
    for file in _STORAGE[name].digests:
        path = files_dir / file
        if not path.is_file():
            raise CnnlabError(f"{path} is missing; delete its folder and run `cnnlab fetch {name}`")
        contents[file] = bytearray(path.read_bytes())
    return contents


def _parse(name: str, contents: dict[str, bytearray]) -> tuple[np.ndarray, ...]:
    """train_x, train_y, test_x, test_y: uint8 images [N, C, H, W] and uint8/int labels [N]."""
    info = DATASETS[name]
    if name == "cifar10":
        train = [_parse_cifar10_batch(contents, f"data_batch_{i}", info) for i in range(1, 6)]
        test_x, test_y = _parse_cifar10_batch(contents, "test_batch", info)
        train_x = np.concatenate([images for images, _ in train])
        train_y = np.concatenate([labels for _, labels in train])
        _parse_cifar10_meta(contents["batches.meta"])
        return train_x, train_y, test_x, test_y
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
        _check_labels(labels, labels_file, info)
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


def _check_labels(labels: np.ndarray, file: str, info: DatasetInfo) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= len(info.classes)):
        raise CnnlabError(f"{file} has labels outside 0-{len(info.classes) - 1}")


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


def _parse_cifar10_batch(contents: dict[str, bytearray], file: str,
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
    _check_labels(labels, file, info)
    # Each row holds the red, then the green, then the blue plane, each row-major: that is CHW.
    return images.reshape(-1, info.channels, info.size, info.size), labels


def _parse_cifar10_meta(data: bytearray) -> None:
    meta = _unpickle(data, "batches.meta")
    if len(meta.get("label_names", ())) != 10:
        raise CnnlabError("batches.meta: 'label_names' must list the 10 classes")
