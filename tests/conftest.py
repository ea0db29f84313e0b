"""What every test shares."""

import pytest
import torch

from cnnlab.data.fetch import fetch
from synthetic import write_mirror


@pytest.fixture(autouse=True)
def torch_threads_as_they_were():
    """A test that trains in this process with `threads=N` sets torch's thread count for the whole
    process; results depend on it (docs/statistics.md, "Reproducibility"), so give the next test the
    old one."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A data root holding synthetic MNIST (700 training, 200 test images), fetched as `cnnlab
    fetch` does; no CIFAR-10, so the benchmarks' random-image fallback runs for it."""
    tmp = tmp_path_factory.mktemp("data")
    mirror = write_mirror(tmp / "mirror", datasets=("mnist",), n_train=700, n_test=200)
    fetch("mnist", tmp / "raw", mirror=mirror, verify=False)
    return tmp / "raw"
