"""Fetch a dataset into torchvision's on-disk layout, verified.

`fetch` tries, in order: an offline mirror folder, the Debian package a dataset declares, and
torchvision's internet download. It builds the copy in a temporary folder inside `root`, checks
every file against the digests of the canonical files, and only then moves the folder into
place, so a failed fetch leaves nothing behind. One fetch at a time works in a data root (a lock),
and it first removes what fetches killed midway left there.
"""

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from cnnlab.data.catalog import PROVENANCE_FILE, DatasetInfo, dataset_dir, dataset_info
from cnnlab.data.formats import Unavailable, file_digest, format_of
from cnnlab.data.load import read_files
from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_json, flocked

# Write failures that mean the disk (or the quota, or the file size limit) is full.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}

MIRROR_HELP = (
    "To use an offline copy, point data.mirror in params.yaml, the variable CNNLAB_DATA_MIRROR "
    "or --mirror at a folder laid out like ../shared/datasets: mnist/ and fashion-mnist/ holding "
    "the four IDX files (raw, .gz or .xz), and cifar-10-python.tar.gz or cifar-10-batches-py/ "
    "(directly in it, or in cifar10/ or cifar-10/)."
)


def fetch(name: str, root: str | Path = "data/raw", mirror: str | Path | None = None,
          verify: bool = True) -> dict:
    """Put dataset `name` under `root` in torchvision's layout and return its provenance.

    Sources, in order: the offline `mirror` folder, the dataset's Debian package (Fashion-MNIST:
    /usr/share/datasets/fashion-mnist), torchvision's download. A source that has no copy is
    skipped; one whose copy is damaged stops the fetch with an error. With `verify` (the default)
    only the canonical files are accepted; without it other copies are too, recorded as
    `verified: false`. A folder already in place is checked, never replaced.
    """
    info = dataset_info(name)  # refuses an unknown name
    root = Path(root)
    try:
        with _locked(root, name):
            _remove_stale_staging(name, root)
            target = dataset_dir(name, root)
            if target.exists():
                return _adopt_existing(info, target, verify)
            return _fetch_new(info, root, mirror, verify)
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
    with flocked(root, when_busy=lambda: print(f"{name}: another fetch is using {root}; waiting for it "
                                                "to finish", flush=True)):
        yield


def _remove_stale_staging(name: str, root: Path) -> None:
    """Remove the staging folders of fetches of `name` that were killed midway. Only called under
    the lock: no fetch is running, so any staging folder is stale."""
    for stale in sorted(root.glob(f".fetch-{name}-*")):
        if stale.is_dir():
            shutil.rmtree(stale)
            print(f"{name}: removed {stale}, left by an interrupted fetch")


def _fetch_new(info: DatasetInfo, root: Path, mirror: str | Path | None, verify: bool) -> dict:
    """Build the copy in a staging folder in `root`, check it, then move it into place."""
    target = dataset_dir(info.name, root)
    staging = Path(tempfile.mkdtemp(prefix=f".fetch-{info.name}-", dir=root))
    try:
        copy = staging / target.name
        files_dir = copy / info.subdir
        files_dir.mkdir(parents=True)
        source = _fill_from_first_source(info, files_dir, staging, mirror)
        provenance = _provenance(
            info, files_dir, source, verify,
            how_to_fix="Replace it with a good copy, or pass --no-verify (data.verify: false) "
                       "to use this copy, recorded as unverified.",
        )
        atomic_write_json(copy / PROVENANCE_FILE, provenance)
        target.parent.mkdir(exist_ok=True)
        os.replace(copy, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return provenance


# ---- checking a copy ----

def _provenance(info: DatasetInfo, files_dir: Path, source: str, verify: bool, how_to_fix: str) -> dict:
    """The provenance record of the copy in `files_dir`; refuses a non-canonical one if `verify`."""
    sha256s, mismatches = {}, []
    for file, expected in info.digests.items():
        path = files_dir / file
        sha256s[file] = file_digest(path, "sha256")
        actual = sha256s[file] if info.algorithm == "sha256" else file_digest(path, info.algorithm)
        if actual != expected:
            mismatches.append(f"{file} has {info.algorithm.upper()} {actual}, expected {expected}")
    if mismatches and verify:
        raise CnnlabError(
            f"{info.name} from {source} is not the canonical copy: {'; '.join(mismatches)}. {how_to_fix}"
        )
    if mismatches:  # a copy we cannot vouch for must at least parse
        format_of(info).parse(info, read_files(info, files_dir))
    return {"dataset": info.name, "source": source, "verified": not mismatches, "files": sha256s}


def _adopt_existing(info: DatasetInfo, target: Path, verify: bool) -> dict:
    """Check a dataset folder that is already in place (and record its provenance if missing)."""
    name = info.name
    files_dir = target / info.subdir
    missing = [file for file in info.digests if not (files_dir / file).is_file()]
    if missing:
        raise CnnlabError(
            f"{target} exists but lacks {', '.join(missing)}; move it aside or delete it, "
            f"then run `cnnlab fetch {name}` again"
        )
    provenance = _provenance(
        info, files_dir, f"existing folder {target}", verify,
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


# ---- sources ----

def _fill_from_first_source(info: DatasetInfo, files_dir: Path, scratch: Path,
                            mirror: str | Path | None) -> str:
    """Copy the dataset's files into `files_dir` from the first source that has them.

    Returns that source's description. `scratch` is a folder for temporary files.
    """
    sources = [("offline mirror", partial(_from_mirror, info, mirror))]
    if info.package:
        sources.append((f"Debian package {info.package.name}", partial(_from_package, info)))
    sources.append(("internet", partial(_from_internet, info)))

    tried = []
    for number, (label, fill) in enumerate(sources, start=1):
        try:
            return fill(files_dir, scratch)
        except Unavailable as missing:
            tried.append(f"({number}) {label}: {missing}")
    raise CnnlabError(f"could not fetch {info.name}; tried {'; '.join(tried)}. {MIRROR_HELP} "
                      f"{without(info.name)}")


def without(name: str) -> str:
    """How to go on without dataset `name`: the same for Snakemake and DVC (cnnlab.pipeline.left_out)."""
    return f"To run the study without {name}, leave it out of `datasets` in params.yaml and run it again."


def _from_mirror(info: DatasetInfo, mirror: str | Path | None, files_dir: Path, scratch: Path) -> str:
    if not mirror:
        raise Unavailable("none given")
    mirror = Path(mirror)
    if not mirror.is_dir():
        raise Unavailable(f"{mirror} is not a folder")
    candidates = [mirror / subfolder for subfolder in info.mirror_subfolders]
    return f"offline mirror {format_of(info).copy_from(info, candidates, files_dir)}"


def _from_package(info: DatasetInfo, files_dir: Path, scratch: Path) -> str:
    package = info.package
    if not package.folder.is_dir():
        raise Unavailable(f"{package.folder} not found (apt-get install {package.name})")
    folder = format_of(info).copy_from(info, [package.folder], files_dir)
    return f"Debian package {package.name} ({folder})"


def _from_internet(info: DatasetInfo, files_dir: Path, scratch: Path) -> str:
    import torchvision  # only this source needs it, and it is slow to import

    download_root = scratch / "download"
    try:  # the class checks its own MD5s
        getattr(torchvision.datasets, info.download)(download_root, train=True, download=True)
    except (RuntimeError, OSError) as error:  # no network, or a download that failed its check
        if getattr(error, "errno", None) in _NO_SPACE:
            raise  # a full disk is the data root's problem, not the download's
        raise Unavailable(f"torchvision's download failed: {' '.join(str(error).split())}") \
            from None
    downloaded = download_root / info.folder / info.subdir
    for file in info.digests:
        os.replace(downloaded / file, files_dir / file)
    return "internet (torchvision download)"
