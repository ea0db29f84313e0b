"""Where the real datasets are for tests: $CNNLAB_DATA_MIRROR, else ../shared/datasets."""

import os
from pathlib import Path

import pytest


def _real_mirror() -> Path | None:
    candidates = [os.environ.get("CNNLAB_DATA_MIRROR"),
                  Path(__file__).resolve().parents[2] / "shared" / "datasets"]
    return next((Path(c) for c in candidates if c and (Path(c) / "mnist").is_dir()), None)


REAL_MIRROR = _real_mirror()
needs_real_mnist = pytest.mark.skipif(
    REAL_MIRROR is None,
    reason="no real MNIST mirror: set CNNLAB_DATA_MIRROR or put shared/datasets beside the repo",
)
