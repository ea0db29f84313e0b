"""Files of a results folder: atomic writes, and holding the folder for one command at a time.

Atomic: a reader sees the old file or the new one, never half of one. An interrupted write (a
`kill -9`) can leave its temporary file `.{stem}.tmp-*{suffix}` behind; the next command that holds
the folder removes it.
"""

import fcntl
import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager, suppress
from pathlib import Path

from cnnlab.errors import CnnlabError

UMASK = os.umask(0)  # read once (reading it means setting it), then put back
os.umask(UMASK)
TEMP_GLOB = ".*.tmp-*"  # what atomic_path's temporary files look like


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    A file-system error names `path`, not the temporary file the user never asked for.
    """
    path = Path(path)
    prefix, tmp = f".{path.stem}.tmp-", None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=path.suffix)
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0600 would keep the file from everyone else
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is None or Path(err.filename).name.startswith(prefix):
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
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
    atomic_write_with(path, lambda tmp: _torch_save(obj, tmp))


def _torch_save(obj, path: Path) -> None:
    """torch.save, but a failed write (a full disk) raises its OSError, not torch's RuntimeError."""
    import torch  # here, not at the top: summarize and report write no checkpoint, and torch takes seconds

    with open(path, "wb") as f:
        try:
            torch.save(obj, f)
        except RuntimeError as err:
            if isinstance(err.__context__, OSError):
                raise err.__context__ from None
            raise


@contextmanager
def held_folder(folder: str | Path, create: bool = False, also_clean: tuple[str, ...] = ()):
    """Hold `folder` for one command: refuse when another command holds it, then clean and check it.

    The lock is an flock on the folder itself, so it leaves no file behind (nothing for DVC, Snakemake
    or git to see) and the kernel releases it when the process ends, however it ends. Holding it,
    the temporary files of interrupted writes in `folder` (and its subfolders `also_clean`, unless
    a link leads elsewhere) are removed, and a test file is made and dropped in each, so a read-only
    folder is refused before any work.
    With `create`, a missing folder (and its missing parents) is made, and removed again if the
    command fails leaving it empty.
    """
    folder = Path(folder)
    made = missing_folders(folder) if create else []
    if create:
        folder.mkdir(parents=True, exist_ok=True)

    def refuse():
        raise CnnlabError(f"{folder} is in use by {lock_holder(folder)}; wait until it ends "
                          "(or stop it), then run this again")

    try:
        with flocked(folder, when_busy=refuse):
            for sub in (folder, *(folder / name for name in also_clean)):
                if sub == folder or not sub.is_symlink():  # never clean where a link leads
                    remove_stale_temps(sub)
                if sub.is_dir():  # every destination is checked before anything is written
                    check_writable(sub)
            yield folder
    except BaseException:
        for made_folder in made:  # innermost first
            with suppress(OSError):  # not empty: it holds what the command wrote before failing
                made_folder.rmdir()
        raise


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, innermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


@contextmanager
def flocked(folder: Path, when_busy: Callable[[], None]):
    """An exclusive flock on `folder` itself (no lock file; the kernel releases it when the process
    ends, however it ends). When another process holds it, `when_busy()` is called first: it raises
    to refuse, or returns to wait for the lock."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            when_busy()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_stale_temps(folder: Path) -> None:
    """Delete the temporary files of interrupted atomic writes in `folder` (while holding the folder)."""
    if folder.is_dir():
        for path in folder.glob(TEMP_GLOB):
            if path.is_file():
                path.unlink()


def check_writable(folder: Path) -> None:
    """Make and drop a nameless file in `folder`: raises the OSError that writing there would meet."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(folder)) from None


def lock_holder(folder: Path) -> str:
    """'process PID (its command line)' holding the flock on `folder`, from /proc/locks (Linux)."""
    stat = os.stat(folder)
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        with open("/proc/locks") as f:  # lines like "1: FLOCK  ADVISORY  WRITE <pid> <dev:inode> 0 EOF"
            pid = next(fields[4] for fields in map(str.split, f)
                       if fields[1] == "FLOCK" and fields[5] == inode)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = " ".join(f.read().replace(b"\0", b" ").decode(errors="replace").split())
    except (OSError, StopIteration, IndexError):
        return "another process"
    return f"process {pid} ({command[:200]})"  # one line, however the command was written
