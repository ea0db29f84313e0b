"""Whether a run is current, so that `cnnlab train` and `cnnlab evaluate` keep it and write nothing.

Decided without torch, which those commands import only when a seed has work to do.
"""

import hashlib
from pathlib import Path

from cnnlab.data.catalog import read_provenance
from cnnlab.errors import CnnlabError
from cnnlab.io import held_folder
from cnnlab.results.provenance import code_digest
from cnnlab.results.records import EVALUATION_FILES, read_history, read_json, read_train_record


def training_kept(cfg: dict, out_dir: Path) -> bool:
    """True when `out_dir` holds a finished run of `cfg` (which has its `seed`) with the same recipe and
    the same training code: `cnnlab train` keeps it. So after one more seed in `seeds` it trains that
    seed alone (DVC reruns the whole stage of an experiment). A kept run is refused as a training
    would be: when its data is no longer fetched, or the folder is busy or read-only."""
    if not trained_current(cfg, out_dir):
        return False
    read_provenance(cfg["dataset"], cfg["data"]["root"])  # its data must still be there
    with held_folder(out_dir):
        return True


def trained_current(cfg: dict, out_dir: Path) -> bool:
    """`out_dir` holds a finished run of `cfg` made by this training code."""
    try:
        record = read_train_record(out_dir, cfg, "")
    except CnnlabError:
        return False
    return record.get("code_sha256") == code_digest("train") and (out_dir / "model.pt").is_file()


def evaluation_kept(cfg: dict, out_dir: Path) -> bool:
    """True when the run's metrics.json was made from its model.pt by this evaluation code: `cnnlab
    evaluate` keeps it and writes nothing (so DVC's `runs` stage, which evaluates every seed of an
    experiment, leaves the files of current runs as they are, and Snakemake finds them current).
    Refused, as an evaluation would be, when the folder is busy or read-only."""
    if not evaluated_current(cfg, out_dir):
        return False
    with held_folder(out_dir):
        return True


def evaluated_current(cfg: dict, out_dir: Path) -> bool:
    """`out_dir`'s evaluation files were made from its model.pt by this evaluation code, and what the
    evaluation reads (train.json, history.csv) is still readable, as when it was made."""
    try:
        read_train_record(out_dir, cfg, "")
        read_history(out_dir, "")
        made = read_json(out_dir / "metrics.json", ("model_sha256", "code_sha256"), "")
    except CnnlabError:
        return False
    return (made["code_sha256"] == code_digest("evaluate")
            and all((out_dir / name).is_file() for name in EVALUATION_FILES)
            and made["model_sha256"] == file_sha256(out_dir / "model.pt"))


def file_sha256(path: Path) -> str | None:
    """The file's SHA-256, or None when it is missing or no regular file (a device never ends)."""
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
