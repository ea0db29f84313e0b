"""Small synthetic datasets written in the real on-disk formats, for tests.

MNIST-style IDX files (raw, .gz or .xz) and CIFAR-10's `cifar-10-batches-py` pickles (also
packed as `cifar-10-python.tar.gz`). The images are learnable: each class draws a bright square
at its own place (and, in colour, in its own colour), shifted by a pixel or two, over noise.

    from synthetic import write_mirror
    mirror = write_mirror(tmp_path / "mirror", n_train=600, n_test=200)
    datasets.fetch("mnist", tmp_path / "raw", mirror=mirror, verify=False)
"""

import gzip
import io
import lzma
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR10_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                       "dog", "frog", "horse", "ship", "truck")
MIRROR_SUBFOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
SEED_OFFSETS = {"mnist": 0, "fashion_mnist": 100, "cifar10": 200}


def make_images(n: int, channels: int, size: int, seed: int = 0,
                num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """`n` uint8 images [n, channels, size, size] and their uint8 labels [n], classes balanced."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % num_classes).astype(np.uint8)
    images = rng.integers(0, 60, (n, channels, size, size), dtype=np.uint8)
    cell = size // 4  # the 4x4 grid of places; class k sits in cell k
    for index, label in enumerate(labels):
        row, col = divmod(int(label), 4)
        top, left = np.clip(np.array([row, col]) * cell + rng.integers(-2, 3, 2), 0, size - cell)
        for channel in range(channels):
            # In colour, a class's square is bright in some channels and dim in others.
            brightness = 255 if channels == 1 else 90 + 80 * ((int(label) + channel) % 3)
            images[index, channel, top:top + cell, left:left + cell] = brightness
    return images, labels


def idx_bytes(array: np.ndarray) -> bytes:
    """`array` (uint8) in the IDX format: magic 00 00 08 <ndim>, big-endian sizes, the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes((0, 0, 0x08, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_compressed(path: Path, data: bytes, compress: str | None = None) -> Path:
    """Write `data` to `path`, `path`.gz or `path`.xz; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress == "gz":
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    elif compress == "xz":
        path = path.with_name(path.name + ".xz")
        data = lzma.compress(data)
    elif compress is not None:
        raise ValueError(f"compress must be 'gz', 'xz' or None, not {compress!r}")
    path.write_bytes(data)
    return path


def write_idx_dataset(folder: Path, n_train: int = 1000, n_test: int = 500,
                      compress: str | None = "gz", seed: int = 0) -> Path:
    """The four MNIST-style IDX files (28x28 grayscale) in `folder`."""
    train_x, train_y = make_images(n_train, 1, 28, seed)
    test_x, test_y = make_images(n_test, 1, 28, seed + 1)
    arrays = (train_x[:, 0], train_y, test_x[:, 0], test_y)
    for file, array in zip(IDX_FILES, arrays, strict=True):
        write_compressed(Path(folder) / file, idx_bytes(array), compress)
    return Path(folder)


class _Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 `str`, as in the real CIFAR-10 pickles.

    Loaded with encoding="latin1" (as torchvision does) they become str, with encoding="bytes"
    bytes: so the dict keys read back as "data" or b"data", exactly as the real files' do.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes((len(obj),)) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def python2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    # numpy 1.x, which wrote the real files, named its array builder numpy.core.multiarray.
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar10_files(n_train: int = 1000, n_test: int = 500, seed: int = 0) -> dict[str, bytes]:
    """The files of `cifar-10-batches-py`: data_batch_1..5, test_batch, batches.meta.

    Same dict keys as the real ones: b"data" uint8 [N, 3072] (each row the R, G, B planes,
    row-major), b"labels" a list of ints, b"batch_label", b"filenames".
    """
    train_x, train_y = make_images(n_train, 3, 32, seed)
    test_x, test_y = make_images(n_test, 3, 32, seed + 1)
    batches = {f"data_batch_{i + 1}": (f"training batch {i + 1} of 5", part)
               for i, part in enumerate(np.array_split(np.arange(n_train), 5))}
    files = {}
    for file, (batch_label, index) in batches.items():
        files[file] = _cifar10_batch(train_x[index], train_y[index], batch_label)
    files["test_batch"] = _cifar10_batch(test_x, test_y, "testing batch 1 of 1")
    files["batches.meta"] = python2_pickle({
        b"num_cases_per_batch": 10000,
        b"label_names": [name.encode() for name in CIFAR10_LABEL_NAMES],
        b"num_vis": 3072,
    })
    return files


def _cifar10_batch(images: np.ndarray, labels: np.ndarray, batch_label: str) -> bytes:
    return python2_pickle({
        b"batch_label": batch_label.encode(),
        b"labels": [int(label) for label in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"synthetic_{label}_{i:05d}.png".encode() for i, label in enumerate(labels)],
    })


def write_cifar10_dir(folder: Path, n_train: int = 1000, n_test: int = 500, seed: int = 0) -> Path:
    """`folder`/cifar-10-batches-py/ with the seven files; returns that folder."""
    unpacked = Path(folder) / "cifar-10-batches-py"
    unpacked.mkdir(parents=True, exist_ok=True)
    for file, data in cifar10_files(n_train, n_test, seed).items():
        (unpacked / file).write_bytes(data)
    return unpacked


def write_cifar10_tar(folder: Path, n_train: int = 1000, n_test: int = 500, seed: int = 0) -> Path:
    """`folder`/cifar-10-python.tar.gz, members cifar-10-batches-py/<file>; returns its path."""
    archive = Path(folder) / "cifar-10-python.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for file, data in cifar10_files(n_train, n_test, seed).items():
            member = tarfile.TarInfo(f"cifar-10-batches-py/{file}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return archive


def write_mirror(path: Path, datasets=("mnist", "fashion_mnist", "cifar10"), n_train: int = 1000,
                 n_test: int = 500, cifar_layout: str = "tar", compress: str | None = "gz",
                 seed: int = 0) -> Path:
    """A complete synthetic offline mirror laid out like ../shared/datasets; returns `path`.

    mnist/ and fashion-mnist/ get the four IDX files (compressed as `compress`: "gz", "xz" or
    None), CIFAR-10 goes in as cifar-10-python.tar.gz (`cifar_layout="tar"`) or an unpacked
    cifar-10-batches-py/ (`"dir"`). Their digests are not the canonical ones: fetch them with
    verify=False.
    """
    path = Path(path)
    for name in datasets:
        dataset_seed = seed + SEED_OFFSETS[name]  # different images in each dataset
        if name == "cifar10":
            if cifar_layout == "tar":
                write_cifar10_tar(path, n_train, n_test, dataset_seed)
            elif cifar_layout == "dir":
                write_cifar10_dir(path, n_train, n_test, dataset_seed)
            else:
                raise ValueError(f"cifar_layout must be 'tar' or 'dir', not {cifar_layout!r}")
        else:
            write_idx_dataset(path / MIRROR_SUBFOLDERS[name], n_train, n_test, compress,
                              dataset_seed)
    return path


def mnist_project(folder: Path, n_train: int, n_test: int, val_size: int = 100, **changes) -> Path:
    """`folder`/params.yaml, the project's catalog with its data root `folder`/raw holding synthetic
    MNIST (fetched, unverified) and the top-level keys of `changes` replaced; returns `folder`."""
    import yaml

    from cnnlab import config
    from cnnlab.data.fetch import fetch

    mirror = write_mirror(folder / "mirror", datasets=("mnist",), n_train=n_train, n_test=n_test)
    params = config.read_params(Path(__file__).resolve().parents[1] / "params.yaml")
    params["data"].update(root=str(folder / "raw"), mirror=str(mirror), verify=False, val_size=val_size)
    params.update(changes)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    fetch("mnist", folder / "raw", mirror=mirror, verify=False)
    return folder
