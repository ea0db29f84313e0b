"""What every test shares."""

import pytest
import torch


@pytest.fixture(autouse=True)
def torch_threads_as_they_were():
    """A test that trains in this process with `threads=N` sets torch's thread count for the whole
    process; results depend on it (README, Reproducibility), so give the next test the old one."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
