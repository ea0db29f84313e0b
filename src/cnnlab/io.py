"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch

UMASK = os.umask(0)  # read once (reading it means setting it), then put back
os.umask(UMASK)


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0600 would keep the file from everyone else
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def atomic_write_with(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)` (e.g. DataFrame.to_csv, Figure.savefig) and move the result into place."""
    with atomic_path(path) as tmp:
        write(tmp)


def atomic_torch_save(path: str | Path, obj) -> None:
    atomic_write_with(path, lambda tmp: torch.save(obj, tmp))
