"""Running the real `cnnlab` command in a subprocess, and checking a refusal changed nothing.

A refusal is one line `cnnlab: error: ...` naming the file and what to do, exit code 2, no
traceback, and every file the user had byte-identical afterwards.
"""

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from synthetic import mnist_project

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0  # chmod does not stop root: read-only and full disks are real mounts


def cnnlab(project, *args, cwd=None, file_size_limit=None) -> subprocess.CompletedProcess:
    """`cnnlab --params PROJECT/params.yaml ARGS...`, from this checkout's src/."""
    def limit_file_size():  # a write past the limit fails with EFBIG instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml"), *args],
                          capture_output=True, text=True, cwd=cwd, env=env,
                          preexec_fn=limit_file_size if file_size_limit else None)


# Snakemake says first, on every run, which profile it reads (workflow/profiles/default, beside the
# Snakefile): its own line, before cnnlab's.
SNAKEMAKE_PROFILE_LINE = ("Using workflow specific profile workflow/profiles/default for setting default "
                          "command line arguments.")


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The lines of `result`'s stderr, without Snakemake's line about its profile."""
    return [line for line in result.stderr.strip().splitlines() if line != SNAKEMAKE_PROFILE_LINE]


def assert_refused(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2 and one line `cnnlab: error: ...` holding every needle, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = stderr_lines(result)
    assert len(lines) == 1 and lines[0].startswith("cnnlab: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def mounted_tmpfs(folder: Path, size: str, read_only: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if read_only else ""), "tmpfs",
                    str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextmanager
def read_only_folder(folder: Path):
    """An empty read-only `folder`: a read-only tmpfs as root, a chmod 555 folder otherwise."""
    if IS_ROOT:
        with mounted_tmpfs(folder, "1m", read_only=True):
            yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def trained_project(folder: Path, experiment: str) -> Path:
    """Synthetic MNIST in `folder`, and `experiment` (one seed) trained, evaluated and summarized
    into `folder`/trained/: the results that the refusal tests try to damage."""
    from cnnlab import config
    from cnnlab.analysis.summary import summarize
    from cnnlab.training.evaluate import evaluate
    from cnnlab.training.train import train

    mnist_project(folder, n_train=300, n_test=100, val_size=50, datasets=["mnist"], seeds=[0])
    cfg = config.experiment_config(config.load_params(folder / "params.yaml"), experiment)
    run = config.run_config(cfg, 0)
    train(run, folder / "trained/runs/seed0")
    evaluate(run, folder / "trained/runs/seed0")
    summarize(cfg, folder / "trained")
    return folder


def results_copy(project: Path, tmp_path: Path, experiment: str) -> Path:
    """A fresh copy of `project`'s trained results, as results/EXPERIMENT of a study."""
    return Path(shutil.copytree(project / "trained", tmp_path / "results" / experiment))
