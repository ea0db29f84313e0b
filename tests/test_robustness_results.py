"""Nothing a user does loses their results or runs foreign code (issue 9, part A).

Every case runs the real `cnnlab` command in a subprocess on real files: a refusal is one line
`cnnlab: error: ...` naming the file and what to do, exit code 2, no traceback, and every file the
user had is byte-identical afterwards. Read-only folders and full disks are real tmpfs mounts when
the tests run as root (chmod does not stop root), else a chmod and a file-size limit.
"""

import fcntl
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnlab.models import create_model
from cnnlab.training import runtime
from refusals import (
    IS_ROOT,
    REPO,
    assert_refused,
    cnnlab,
    mounted_tmpfs,
    results_copy,
    snapshot,
    trained_project,
)

EXPERIMENT = "mlp_mnist"  # one epoch of a tiny MLP: quick to train in the fixture
RUN = "runs/seed0"  # its one run (seeds: [0]), inside the experiment's folder
CHECKPOINT_READERS = [(["train", "--resume"], "last.pt"), (["evaluate"], "model.pt")]


class RunsCode:
    """Unpickling this runs `touch <marker>`: what a crafted checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project(tmp_path_factory.mktemp("project"), EXPERIMENT)


@pytest.fixture
def results(project, tmp_path) -> Path:
    return results_copy(project, tmp_path, EXPERIMENT)


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp-*"))


# ----------------------------------------------------------------------------- checkpoints

def unfinished_if_resumed(results: Path, command: list[str]) -> None:
    """`train --resume` reads last.pt of a run that did not finish (no train.json yet); a finished
    run of the same recipe is kept as it is."""
    if command[0] == "train":
        (results / RUN / "train.json").unlink()


@pytest.mark.parametrize("command, checkpoint", CHECKPOINT_READERS)
def test_a_checkpoint_with_code_in_it_is_refused_and_the_code_never_runs(project, results, tmp_path,
                                                                         command, checkpoint):
    marker = tmp_path / "MARKER"
    state = torch.load(results / RUN / checkpoint, weights_only=True)
    if checkpoint == "last.pt":
        state["history"].append({"epoch": RunsCode(marker)})  # hidden inside a valid checkpoint
    else:
        state = {**state, "extra": RunsCode(marker)}
    torch.save(state, results / RUN / checkpoint)
    unfinished_if_resumed(results, command)
    before = snapshot(results)
    result = cnnlab(project, command[0], EXPERIMENT, "--out", str(results), *command[1:])
    assert_refused(result, str(results / RUN / checkpoint), "nothing in it ran")
    assert not marker.exists()
    assert snapshot(results) == before


@pytest.mark.parametrize("command, checkpoint", CHECKPOINT_READERS)
def test_a_plain_pickle_in_place_of_a_checkpoint_is_refused_in_one_line(project, results, tmp_path,
                                                                       command, checkpoint):
    """A pickle.dumps file, not torch's format: torch warns about its protocol; no warning reaches
    the user, only the one line."""
    marker = tmp_path / "MARKER"
    (results / RUN / checkpoint).write_bytes(pickle.dumps(RunsCode(marker), protocol=4))
    unfinished_if_resumed(results, command)
    before = snapshot(results)
    result = cnnlab(project, command[0], EXPERIMENT, "--out", str(results), *command[1:])
    assert_refused(result, str(results / RUN / checkpoint), "nothing in it ran")
    assert not marker.exists() and "Warning" not in result.stderr
    assert snapshot(results) == before


def damage(path: Path, how: str) -> None:
    """Make the checkpoint at `path` empty, truncated, another model's, or lacking a key."""
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif how == "another model":
        lenet = create_model("lenet5")
        state = torch.load(path, weights_only=True)
        if path.name == "last.pt":
            state["model"] = lenet.state_dict()
        else:
            state = lenet.state_dict()
        torch.save(state, path)
    elif how == "a key missing":
        state = torch.load(path, weights_only=True)
        del state["optimizer" if path.name == "last.pt" else next(iter(state))]
        torch.save(state, path)


@pytest.mark.parametrize("how", ["empty", "truncated", "another model", "a key missing"])
@pytest.mark.parametrize("command, checkpoint", CHECKPOINT_READERS)
def test_a_damaged_checkpoint_gives_one_line_and_changes_nothing(project, results, command, checkpoint, how):
    damage(results / RUN / checkpoint, how)
    unfinished_if_resumed(results, command)
    before = snapshot(results)
    result = cnnlab(project, command[0], EXPERIMENT, "--out", str(results), *command[1:])
    assert_refused(result, str(results / RUN / checkpoint))
    assert snapshot(results) == before


def test_a_genuine_last_pt_holds_tensors_and_plain_values_only(results):
    state = torch.load(results / RUN / "last.pt", weights_only=True)  # raises if anything else is in it
    assert isinstance(state["rng"]["numpy"][1], torch.Tensor)


def test_rng_states_come_back_from_a_weights_only_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    torch.save({"rng": runtime.rng_states()}, tmp_path / "last.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.set_rng_states(torch.load(tmp_path / "last.pt", weights_only=True)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


# ----------------------------------------------------------------------------- refusals keep results

def train_refusals() -> list[list[str]]:
    causes = [["--set", "data.val_size=60000"], ["--set", "trainable=[conv9]"],
              ["--set", "data.root=/nonexistent"]]
    if not torch.cuda.is_available():
        causes.append(["--set", "device=cuda"])
    return causes


@pytest.mark.parametrize("cause", train_refusals(), ids=lambda cause: cause[-1])
def test_a_refused_training_leaves_every_previous_result_byte_identical(project, results, cause):
    before = snapshot(results)
    assert_refused(cnnlab(project, "train", EXPERIMENT, "--out", str(results), *cause))
    assert snapshot(results) == before


def test_a_refused_training_creates_no_results_folder(project, tmp_path):
    out = tmp_path / "results" / EXPERIMENT
    assert_refused(cnnlab(project, "train", EXPERIMENT, "--out", str(out), "--set", "data.root=/nonexistent"),
                   "cnnlab fetch")
    assert not out.parent.exists()


def test_another_experiments_folder_is_refused(project, results):
    before = snapshot(results)
    assert_refused(cnnlab(project, "train", "cnn_mnist", "--out", str(results)),
                   str(results), f"holds the results of experiment {EXPERIMENT}, not cnn_mnist")
    assert snapshot(results) == before
    (results / RUN / "train.json").unlink()  # an interrupted run: only last.pt says whose folder it is
    before = snapshot(results)
    assert_refused(cnnlab(project, "train", "cnn_mnist", "--out", str(results)), f"experiment {EXPERIMENT}")
    assert snapshot(results) == before


@pytest.mark.parametrize("command", ["summarize", "plot", "report"])
def test_a_seeds_run_of_another_experiment_is_refused(project, results, command):
    """summarize, plot and report read every seed's run: one that another experiment made is named."""
    record = results / RUN / "train.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "experiment": "cnn_mnist"}))
    before = snapshot(results.parent)
    if command == "report":
        result = cnnlab(project, "report", "--results", str(results.parent), cwd=REPO)
    else:
        result = cnnlab(project, command, EXPERIMENT, "--out", str(results))
    assert_refused(result, f"{results / RUN} holds the results of experiment cnn_mnist, not {EXPERIMENT}")
    assert snapshot(results.parent) == before


def test_other_parameters_are_named_with_both_values(project, results):
    assert_refused(cnnlab(project, "evaluate", EXPERIMENT, "--out", str(results), "--set", "epochs=2"),
                   "epochs: trained with 1, asked 2")
    assert_refused(cnnlab(project, "train", EXPERIMENT, "--out", str(results), "--resume",
                          "--set", "lr=0.02", "--set", "epochs=3"),
                   "epochs: trained with 1, asked 3; lr: trained with 0.01, asked 0.02")


@contextmanager
def held(folder: Path):
    """Hold the lock a running cnnlab command holds on `folder`."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


@pytest.mark.parametrize("command", ["train", "evaluate", "summarize", "plot"])
def test_a_folder_in_use_is_refused_naming_the_other_process(project, results, command):
    """A run's folder is held by the train or evaluate command at work in it (the seeds of one
    experiment train side by side); the experiment's folder by summarize and plot."""
    folder = results / RUN if command in ("train", "evaluate") else results
    before = snapshot(results)
    with held(folder):
        result = cnnlab(project, command, EXPERIMENT, "--out", str(results), "--set", "lr=0.02")
    assert_refused(result, f"{folder} is in use by process {os.getpid()}")
    assert snapshot(results) == before


# ----------------------------------------------------------------------------- interrupted writes

def killed_while_writing(path: Path) -> None:
    """Start writing `path` atomically (5 MB) in another process and `kill -9` it mid-write."""
    code = ("import sys, time; from cnnlab.io import atomic_write_with\n"
            "def write(tmp):\n"
            "    tmp.write_bytes(bytes(5_000_000)); print('written', flush=True); time.sleep(600)\n"
            "atomic_write_with(sys.argv[1], write)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    with subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True,
                          env=env) as writer:
        assert writer.stdout.readline() == "written\n"
        writer.send_signal(signal.SIGKILL)
    assert writer.returncode == -signal.SIGKILL


def test_temp_files_of_killed_writes_are_removed_by_the_next_run(project, results):
    study = results.parent
    killed_while_writing(results / RUN / "last.pt")
    killed_while_writing(results / "plots" / "curves.png")
    killed_while_writing(study / "summary.csv")
    killed_while_writing(study / "figures" / "reproduction.png")
    assert len(temp_files(study)) == 4
    for args in (["train", EXPERIMENT, "--resume"], ["plot", EXPERIMENT]):
        result = cnnlab(project, *args, "--out", str(results))
        assert result.returncode == 0, result.stderr
    assert temp_files(results) == []
    assert len(temp_files(study)) == 2  # report's, which the experiment's commands leave alone
    result = cnnlab(project, "report", "--results", str(study), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert temp_files(study) == []


# ----------------------------------------------------------------------------- file-system trouble

def test_out_naming_a_file_or_too_long_a_name_is_refused(project, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine\n")
    assert_refused(cnnlab(project, "train", EXPERIMENT, "--out", str(a_file)), str(a_file), "Not a directory")
    assert_refused(cnnlab(project, "train", EXPERIMENT, "--out", str(a_file / "sub")), "Not a directory")
    assert a_file.read_text() == "mine\n"
    long_name = tmp_path / ("x" * 300)
    assert_refused(cnnlab(project, "train", EXPERIMENT, "--out", str(long_name)), "File name too long",
                   "shorter")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@contextmanager
def read_only_copy(results: Path):
    """`results` copied into a read-only folder: a read-only tmpfs as root (chmod does not stop
    root), a chmod 555 folder otherwise."""
    if not IS_ROOT:
        copy = shutil.copytree(results, results.parent / "read-only")
        copy.chmod(0o555)
        yield copy
        copy.chmod(0o755)
        return
    with mounted_tmpfs(results.parent / "mount", "64m") as mount:
        copy = shutil.copytree(results, mount / EXPERIMENT)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield copy


@pytest.mark.parametrize("command", [["train"], ["train", "--resume"], ["evaluate"], ["plot"]])
def test_a_read_only_results_folder_is_refused_before_any_work(project, results, command):
    with read_only_copy(results) as copy:
        before = snapshot(copy)
        result = cnnlab(project, command[0], EXPERIMENT, "--out", str(copy), *command[1:])
        assert_refused(result, str(copy), "Read-only file system" if IS_ROOT else "Permission denied")
        assert snapshot(copy) == before


def test_a_read_only_study_folder_is_refused_by_report(project, results):
    with read_only_copy(results.parent) as study:
        assert_refused(cnnlab(project, "report", "--results", str(study), cwd=REPO), str(study))


@contextmanager
def full_disk_copy(results: Path):
    """`results` copied to a disk with no room left (a full tmpfs as root); yields (copy, file size
    limit): without root, a limit on the size of the files the command writes stands in for it."""
    if not IS_ROOT:
        yield shutil.copytree(results, results.parent / "full" / EXPERIMENT), 1000
        return
    with mounted_tmpfs(results.parent / "full", "16m") as disk:
        copy = shutil.copytree(results, disk / EXPERIMENT)
        try:
            with open(disk / "filler", "wb") as filler:
                while True:
                    filler.write(bytes(1 << 16))
                    filler.flush()
        except OSError:  # full
            pass
        yield copy, None


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_full_disk_gives_one_line_and_leaves_no_temp_file(project, results, command):
    if command == "evaluate":  # an evaluation that must be made again: of another model.pt, as it says
        metrics = results / RUN / "metrics.json"
        made = json.loads(metrics.read_text())["model_sha256"]
        metrics.write_text(metrics.read_text().replace(made, "0" * len(made)))
    with full_disk_copy(results) as (copy, limit):
        out = copy.parent / "new" if command == "train" else copy  # evaluate rewrites; train starts anew
        result = cnnlab(project, command, EXPERIMENT, "--out", str(out), file_size_limit=limit)
        assert_refused(result, str(out), "disk space" if limit is None else "allowed size")
        assert temp_files(copy.parent) == []


# ----------------------------------------------------------------------------- broken results files

BROKEN_FILES = {
    "train.json": ["{not json", "[1, 2]", '{"experiment": "mlp_mnist"}'],
    "history.csv": ["", "epoch,train_loss\n1,0.5\n", "epoch,train_loss,train_acc,val_loss,val_acc,test_loss,"
                    "test_acc,lr,seconds,images_per_sec\n1,a,b,c,d,e,f,g,h,i\n"],
    "metrics.json": ["", '{"test_acc": 0.5}'],
}


@pytest.mark.parametrize("command, name, content", [
    (command, name, content) for command in ("evaluate", "summarize", "plot", "report")
    for name, contents in BROKEN_FILES.items() for content in contents
    if (command, name) != ("evaluate", "metrics.json")])  # evaluate writes metrics.json, never reads it
def test_a_broken_results_file_is_named(project, results, command, name, content):
    """The broken file is named, and the commands that read every seed's run name the seed to make
    again."""
    (results / RUN / name).write_text(content)
    before = snapshot(results.parent)
    if command == "report":
        result = cnnlab(project, "report", "--results", str(results.parent), cwd=REPO)
    else:
        result = cnnlab(project, command, EXPERIMENT, "--out", str(results))
    fix = [] if command == "evaluate" else [f"`cnnlab train {EXPERIMENT} --seed 0`"]
    assert_refused(result, str(results / RUN / name), *fix)
    assert snapshot(results.parent) == before


@pytest.mark.parametrize("content", [
    "tolerance: [0.02\n", "- a list\n", "tolerance: 0.02\n",
    "tolerance: 0.02\nexperiments: {mlp_mnist: [{kind: lab, value: high}]}\n",
    "tolerance: 0.02\nexperiments: {mlp_mnist: {kind: lab}}\n"])
def test_a_broken_references_yaml_is_named(project, results, tmp_path, content):
    (tmp_path / "references.yaml").write_text(content)
    result = cnnlab(project, "report", "--results", str(results.parent), cwd=tmp_path)
    assert_refused(result, "references.yaml")
