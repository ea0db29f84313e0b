"""The study's datasets, each declared once: what it is, how its files look, where to get them.

Adding a dataset is one `DatasetInfo` below; if its files are in a format not yet known, also a
module in cnnlab/data/formats/ (see its __init__). Everything else (fetch, load, the figures'
titles and markers) reads the declaration.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.errors import CnnlabError

PROVENANCE_FILE = "cnnlab-fetch.json"  # written by fetch beside the files, read by read_provenance
MIRROR_VARIABLE = "CNNLAB_DATA_MIRROR"  # an offline mirror folder, before params.yaml's data.mirror


@dataclass(frozen=True)
class Archive:
    """The canonical archive the files come packed in, as its publisher names it."""

    name: str
    md5: str


@dataclass(frozen=True)
class DebianPackage:
    """A Debian package that installs the dataset's files into a folder."""

    name: str
    folder: Path


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str  # as figures and the report name it
    folder: str  # under root/<name>/, as torchvision names it
    subdir: str  # where the files sit inside root/<name>/<folder> ("" for directly in it)
    format: str  # how its files are read: a module of cnnlab/data/formats/
    classes: tuple[str, ...]
    channels: int
    size: int  # images are size x size pixels
    mean: tuple[float, ...]  # per channel, of pixel values scaled to 0-1
    std: tuple[float, ...]
    algorithm: str  # of the known digests
    digests: dict[str, str] = field(hash=False)  # file name -> digest of the canonical (decompressed) file
    mirror_subfolders: tuple[str, ...]  # where an offline mirror may keep it ("" for the mirror itself)
    download: str  # the torchvision.datasets class that downloads it
    marker: str  # its matplotlib marker in the study's figures
    archive: Archive | None = None
    package: DebianPackage | None = None
    # its experiments take days on a CPU (`cnnlab plan` estimates them): `datasets: auto` leaves it
    # out where there is no GPU
    needs_gpu: bool = False


# SHA-256 of the canonical, decompressed IDX files (as in ../shared/datasets/*/SHA256SUMS).
MNIST = DatasetInfo(
    name="mnist", title="MNIST", folder="MNIST", subdir="raw", format="idx",
    classes=tuple(str(digit) for digit in range(10)), channels=1, size=28, mean=(0.1307,), std=(0.3081,),
    algorithm="sha256",
    digests={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirror_subfolders=("mnist",), download="MNIST", marker="o",
)

FASHION_MNIST = DatasetInfo(
    name="fashion_mnist", title="Fashion-MNIST", folder="FashionMNIST", subdir="raw", format="idx",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    channels=1, size=28, mean=(0.2860,), std=(0.3530,),
    algorithm="sha256",
    digests={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirror_subfolders=("fashion-mnist", "fashion_mnist"), download="FashionMNIST", marker="s",
    # Debian's dataset-fashion-mnist installs the four canonical .gz files here.
    package=DebianPackage("dataset-fashion-mnist", Path("/usr/share/datasets/fashion-mnist")),
)

CIFAR10 = DatasetInfo(
    name="cifar10", title="CIFAR-10", folder="cifar-10-batches-py", subdir="", format="cifar",
    classes=("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    # The labs' statistics. The std is the widely copied (0.2023, 0.1994, 0.2010); the true
    # per-pixel std of the training set is about (0.247, 0.243, 0.262).
    channels=3, size=32, mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
    # MD5 of the canonical unpacked files and of their archive, as torchvision publishes them
    # (torchvision/datasets/cifar.py).
    algorithm="md5",
    digests={
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    archive=Archive("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    mirror_subfolders=("", "cifar10", "cifar-10"), download="CIFAR10", marker="^", needs_gpu=True,
)

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (MNIST, FASHION_MNIST, CIFAR10)}


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise CnnlabError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def dataset_dir(name: str, root: str | Path) -> Path:
    """Where `fetch` puts dataset `name`: root/<name>/<torchvision's folder>, one folder per dataset
    (so that DVC and Snakemake can track each dataset on its own)."""
    return Path(root) / name / dataset_info(name).folder


def read_provenance(name: str, root: str | Path) -> tuple[dict, bool]:
    """What `cnnlab fetch` recorded of the dataset's files: their digests and whether they are the
    canonical ones; a dataset not fetched, or a damaged record, is one CnnlabError saying what to do.
    Here, free of torch: `cnnlab train` checks it for a run it keeps without loading the data."""
    folder = dataset_dir(name, root)
    provenance_path = folder / PROVENANCE_FILE
    try:
        provenance = json.loads(provenance_path.read_text())
        return dict(provenance["files"]), bool(provenance["verified"])
    except FileNotFoundError:
        raise CnnlabError(
            f"{name} has not been fetched into {root} (no {provenance_path}); "
            f"run `cnnlab fetch {name}` first"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise CnnlabError(
            f"{provenance_path} is damaged ({error}); delete {folder} and run `cnnlab fetch {name}`"
        ) from None


def mirror_folder(params: dict, given: Path | None = None) -> Path | None:
    """The offline mirror `cnnlab fetch` reads first: --mirror, else $CNNLAB_DATA_MIRROR, else data.mirror."""
    mirror = given or os.environ.get(MIRROR_VARIABLE) or params["data"]["mirror"]
    return Path(mirror) if mirror else None
