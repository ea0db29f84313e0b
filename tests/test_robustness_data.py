"""`cnnlab fetch` and the data it leaves, as users meet them (issue 9): two fetches at once, a fetch
killed mid-copy, a tampered verified copy, and data roots that cannot be written.

Each test runs the real CLI in a subprocess on a synthetic mirror (tests/synthetic.py).
"""

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlab.data.catalog import PROVENANCE_FILE, dataset_dir
from synthetic import write_mirror

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big_mirror(tmp_path_factory):
    """An MNIST-sized synthetic mirror (47 MB of raw IDX files): a fetch of it takes long enough
    (a few tenths of a second) to be caught mid-copy."""
    return write_mirror(tmp_path_factory.mktemp("big") / "mirror", datasets=("mnist",),
                        n_train=60000, n_test=100, compress=None)


@pytest.fixture
def small_mirror(tmp_path):
    return write_mirror(tmp_path / "mirror", datasets=("mnist", "cifar10"), n_train=2000, n_test=100)


def fetch_args(root: Path, mirror: Path, dataset: str = "mnist") -> list[str]:
    return ["fetch", dataset, "--root", str(root), "--mirror", str(mirror), "--no-verify"]


def run_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, **kwargs)


def start_fetch(root: Path, mirror: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnnlab", *fetch_args(root, mirror)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_staging(root: Path, fetch: subprocess.Popen) -> Path:
    """The staging folder of the running `fetch`, as soon as it appears."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and fetch.poll() is None:
        staging = list(root.glob(".fetch-mnist-*"))
        if staging:
            return staging[0]
        time.sleep(0.001)
    raise AssertionError(f"no staging folder appeared in {root} (fetch exit code {fetch.poll()})")


def assert_one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("cnnlab: error: ") and done.stderr.count("\n") == 1, done.stderr
    for word in words:
        assert word in done.stderr


def files_under(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# ---- two fetches at once ----

def test_two_concurrent_fetches_both_succeed_leaving_one_copy(tmp_path, big_mirror):
    root = tmp_path / "raw"
    first = start_fetch(root, big_mirror)
    staging = wait_for_staging(root, first)
    first.send_signal(signal.SIGSTOP)  # frozen mid-copy, holding its staging folder
    try:
        second = start_fetch(root, big_mirror)
        # The second one says it waits (or, without a lock, finishes while the first is frozen).
        said = second.stdout.readline()
        assert staging.is_dir(), "the second fetch removed the running fetch's staging folder"
    finally:
        first.send_signal(signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=300)
    second_out, second_err = second.communicate(timeout=300)

    assert (first.returncode, first_err) == (0, ""), first_err
    assert (second.returncode, second_err) == (0, ""), second_err
    assert said == f"mnist: another fetch is using {root}; waiting for it to finish\n"
    assert "from offline mirror" in first_out
    assert "already in place (NOT verified); nothing to do" in second_out
    # exactly one copy, and nothing else: no lock file, no staging folder
    assert [path.name for path in root.iterdir()] == ["mnist"]
    assert [path.name for path in (root / "mnist").iterdir()] == ["MNIST"]
    check = run_cli("fetch", "mnist", "--root", str(root), "--no-verify")  # the copy is whole
    assert check.returncode == 0 and "nothing to do" in check.stdout, check.stderr


# ---- a fetch killed mid-copy ----

def test_staging_of_a_killed_fetch_is_removed_by_the_next_fetch(tmp_path, big_mirror):
    root = tmp_path / "raw"
    killed = start_fetch(root, big_mirror)
    staging = wait_for_staging(root, killed)
    killed.kill()  # SIGKILL: no cleanup can run
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert staging.is_dir() and not dataset_dir("mnist", root).exists()

    done = run_cli(*fetch_args(root, big_mirror))
    assert done.returncode == 0, done.stderr
    assert f"mnist: removed {staging}, left by an interrupted fetch" in done.stdout
    assert [path.name for path in root.iterdir()] == ["mnist"]


def test_fetch_of_another_dataset_keeps_that_datasets_staging(tmp_path, small_mirror):
    # Planted, as a fetch of CIFAR-10 killed mid-copy leaves it: only `fetch cifar10` removes it.
    root = tmp_path / "raw"
    planted = root / ".fetch-cifar10-abc123" / "cifar-10-batches-py"
    planted.mkdir(parents=True)
    done = run_cli(*fetch_args(root, small_mirror, "mnist"))
    assert done.returncode == 0, done.stderr
    assert planted.is_dir()
    done = run_cli(*fetch_args(root, small_mirror, "cifar10"))
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in root.iterdir()) == ["cifar10", "mnist"]


# ---- a tampered copy ----

@pytest.mark.parametrize("dataset, file, algorithm", [
    ("mnist", "raw/train-images-idx3-ubyte", "SHA256"),
    ("cifar10", "data_batch_1", "MD5"),
])
def test_training_refuses_a_copy_whose_record_was_changed_with_it(tmp_path, small_mirror, dataset, file,
                                                                  algorithm):
    """A file changed together with its record, which claims verified: the canonical digests
    in the code are what counts, not the record."""
    root = tmp_path / "raw"
    assert run_cli(*fetch_args(root, small_mirror, dataset)).returncode == 0
    record_path = dataset_dir(dataset, root) / PROVENANCE_FILE
    record = json.loads(record_path.read_text())
    record["verified"] = True  # the synthetic files stand for real ones changed with their record
    record_path.write_text(json.dumps(record))
    experiment = {"mnist": "lenet5_mnist", "cifar10": "convnet_cifar10"}[dataset]
    out = tmp_path / "results"

    done = run_cli("train", experiment, "--set", f"data.root={root}", "--set", "scale=smoke",
                   "--out", str(out))
    assert_one_line_error(done, f"{dataset_dir(dataset, root) / file} is not the canonical file",
                          f"{algorithm} ", f"delete {dataset_dir(dataset, root)} and run "
                          f"`cnnlab fetch {dataset}` again")
    assert files_under(out) == {}  # (train makes the empty folder before it loads the data)


def test_unverified_copy_is_still_checked_against_its_record(tmp_path, small_mirror):
    root = tmp_path / "raw"
    assert run_cli(*fetch_args(root, small_mirror)).returncode == 0
    labels = dataset_dir("mnist", root) / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1] + b"\x01")
    done = run_cli("train", "lenet5_mnist", "--set", f"data.root={root}", "--out", str(tmp_path / "out"))
    assert_one_line_error(done, f"{labels} changed since it was fetched")


# ---- data roots that cannot be written ----

@pytest.mark.parametrize("case, reason", [
    ("a file", "not a folder"), ("under a file", "Not a directory"), ("name too long", "File name too long"),
])
def test_unusable_data_root_is_refused_in_one_line(tmp_path, small_mirror, case, reason):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    root = {"a file": blocker, "under a file": blocker / "raw",
            "name too long": tmp_path / ("x" * 300)}[case]
    before = files_under(tmp_path)
    done = run_cli(*fetch_args(root, small_mirror))
    assert_one_line_error(done, f"cannot fetch mnist into {root}: {reason}", "pass --root")
    assert files_under(tmp_path) == before
    assert sorted(tmp_path.iterdir()) == [blocker, tmp_path / "mirror"]


def _limit_file_size():
    # A write past 1 MB fails (EFBIG; Python ignores SIGXFSZ) as on a full disk: a copy that
    # breaks off midway, without needing a mount.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_failed_write_mid_copy_is_one_line_and_leaves_no_file(tmp_path, small_mirror):
    root = tmp_path / "data" / "raw"
    before = files_under(tmp_path)
    done = run_cli(*fetch_args(root, small_mirror), preexec_fn=_limit_file_size)
    assert_one_line_error(done, f"cannot fetch mnist into {root}: File too large",
                          "free some space there")
    assert files_under(tmp_path) == before
    assert list(root.iterdir()) == []  # the data root it made stays, empty (see cnnlab.data.fetch._locked)
