"""Which datasets make up the study: `datasets` in params.yaml as written, or, with `auto` (the
default), every dataset that can be had on this machine and fits it.

Fits: on a machine with a GPU every dataset does; without one, CIFAR-10 does not
(DatasetInfo.needs_gpu: its ResNet-18 and VGG runs take days on a CPU, `make plan` shows how
many). Can be had: its folder is in place, or the offline mirror or a Debian package has a copy,
or its download host answers (cnnlab.data.sources). Snakemake, DVC's stages, the report, `cnnlab
plan` and `cnnlab list` all ask `study_choice`, on the same machine, and so agree. Each dataset
left out comes with why and how to put it in, which the run says at its start and the report lists.
"""

import os
import shutil
from dataclasses import dataclass

from cnnlab.data.catalog import DATASETS

AUTO = "auto"

# Why a dataset is left out, by kind, in English (the run says it at its start; the report writes
# it in its own language by the kind: cnnlab.reporting's catalogs, `left_out`).
WHY_LEFT_OUT = {
    "not_chosen": "left out by `datasets` in params.yaml; name it there to run it",
    "no_gpu": ("no GPU here, and its experiments take days on a CPU (`make plan`); run on a GPU or a "
               "cluster, or name it in `datasets` to run it here anyway"),
    "cannot_be_had": ("it cannot be had here: {where}; put a copy into the offline mirror "
                      "($CNNLAB_DATA_MIRROR), or connect to the internet"),
}


@dataclass(frozen=True)
class LeftOut:
    """Why a dataset is left out: a kind of WHY_LEFT_OUT and, for `cannot_be_had`, where cnnlab looked."""

    kind: str
    where: str = ""

    def __str__(self) -> str:
        return WHY_LEFT_OUT[self.kind].format(where=self.where)


def gpu_visible() -> bool:
    """A cheap stand-in for torch.cuda.is_available()."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    return shutil.which("nvidia-smi") is not None and not hidden


def study_choice(params: dict) -> tuple[list[str], dict[str, LeftOut]]:
    """The study's datasets in catalog order, and each other dataset with why it is left out."""
    chosen = params.get("datasets", AUTO)
    if chosen != AUTO:
        return [name for name in DATASETS if name in chosen], {
            name: LeftOut("not_chosen") for name in DATASETS if name not in chosen}
    from cnnlab.data.sources import source  # asks the download host only for a dataset without a copy

    kept, left_out = [], {}
    for name, info in DATASETS.items():
        if info.needs_gpu and not gpu_visible():
            left_out[name] = LeftOut("no_gpu")
            continue
        where, available = source(params, name)
        if available:
            kept.append(name)
        else:
            left_out[name] = LeftOut("cannot_be_had", where.removeprefix("cannot be had: "))
    return kept, left_out
