"""Re-exports of cnnlab.data for the modules that still import cnnlab.datasets (plan.py,
calibrate.py, benchmarks/, some tests); to be removed once they import cnnlab.data."""

from cnnlab.data.catalog import DATASETS, PROVENANCE_FILE, DatasetInfo, dataset_dir, dataset_info
from cnnlab.data.fetch import fetch
from cnnlab.data.load import Splits, load

__all__ = ["DATASETS", "PROVENANCE_FILE", "DatasetInfo", "Splits", "dataset_dir", "dataset_info", "fetch",
           "load", "CIFAR10_ARCHIVE", "CIFAR10_MD5", "FASHION_MNIST_DEBIAN_DIR", "MNIST_SHA256", "_STORAGE"]

# The old names that plan.py reads, from the declarations.
_STORAGE = DATASETS  # plan.py: _STORAGE[name].mirror_subfolders
MNIST_SHA256 = DATASETS["mnist"].digests
CIFAR10_MD5 = DATASETS["cifar10"].digests
CIFAR10_ARCHIVE = DATASETS["cifar10"].archive.name
FASHION_MNIST_DEBIAN_DIR = DATASETS["fashion_mnist"].package.folder
