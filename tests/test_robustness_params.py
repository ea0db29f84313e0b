"""Bad params.yaml files and bad --set values, through the real `cnnlab` and `snakemake` commands.

Each is refused before anything runs, with one line `cnnlab: error: ...` naming the file or --set
value, the key or line, and what is allowed; exit code 2 from cnnlab; no traceback. Snakemake
refuses the same files at parse time, with cnnlab's line inside its own error message.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from refusals import stderr_lines

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CATALOG = (REPO / "params.yaml").read_text()
TIMEOUT = 60  # seconds; cnnlab answers a refused file in under one, snakemake in about two


def edited(old: str, new: str) -> bytes:
    """params.yaml with the first `old` replaced by `new`."""
    assert old in CATALOG
    return CATALOG.replace(old, new, 1).encode()


def line_of(text: str) -> int:
    return CATALOG[:CATALOG.index(text)].count("\n") + 1


def nested_aliases(levels: int = 9) -> bytes:
    """'Billion laughs' in one experiment's milestones: each list repeats the one before 9 times,
    9**9 numbers in all, in 0.5 KB."""
    lists = ["&a0 [" + ", ".join(["1"] * 9) + "]"]
    lists += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return edited("    milestones: [82, 123]\n", f"    milestones: [{', '.join(lists)}]\n")


LENET = "  lenet5_mnist:\n    dataset: mnist\n"
ROOT = "  root: data/raw "  # data.root's line
BAD_FILES = {  # name: (content of params.yaml, words the error must contain)
    "float epochs": (edited("  epochs: 10\n", "  epochs: 10.0\n"),
                     "defaults.epochs: 10.0 is not an integer; allowed: integer"),
    "float batch_size": (edited("  batch_size: 64\n", "  batch_size: 64.0\n"),
                         "defaults.batch_size: 64.0 is not an integer"),
    "float seed": (edited("seeds: [0, 1, 2, 3, 4]", "seeds: [1.0]"),
                   "params.yaml: seeds.0: 1.0 is not an integer"),
    "nan lr": (edited("    lr: 0.001\n", "    lr: .nan\n"),
               "experiments.lenet5_mnist.lr: nan is not a finite number; allowed: a finite number"),
    "inf weight_decay": (edited("  weight_decay: 0.0\n", "  weight_decay: .inf\n"),
                         "weight_decay: inf is not a finite number"),
    "nan momentum": (edited("  momentum: 0.0\n", "  momentum: .nan\n"),
                     "momentum: nan is not a finite number"),
    "seed beyond 64 bits": (edited("seeds: [0, 1, 2, 3, 4]", f"seeds: [{2**64}]"),
                            f"seeds.0: {2**64} is out of range; allowed: a value >= 0 and <= 4294967295"),
    "seed beyond numpy": (edited("seeds: [0, 1, 2, 3, 4]", f"seeds: [{2**32}]"),
                          "seeds.0: 4294967296 is out of range"),
    "no seed": (edited("seeds: [0, 1, 2, 3, 4]", "seeds: []"), "params.yaml: seeds: [] has too few items"),
    "a seed twice": (edited("seeds: [0, 1, 2, 3, 4]", "seeds: [0, 0]"),
                     "params.yaml: seeds: [0, 0] lists a value more than once"),
    "5000-digit number": (edited("  epochs: 10\n", f"  epochs: {'9' * 5000}\n"),
                          "a number of 5000 characters; allowed: at most 32"),
    "non-UTF-8 byte": (edited(ROOT, ROOT + " # caf\xe9 ").replace("é".encode(), b"\xe9"),
                       f"line {line_of(ROOT)}: byte 0xe9 is not UTF-8; save the file as UTF-8"),
    "lr twice": (edited("    lr: 0.001\n", "    lr: 0.001\n    lr: 0.1\n"), "lr: duplicate key (lines"),
    "experiment twice": (CATALOG.replace("experiments:\n", f"experiments:\n{LENET}", 1).encode(),
                         "lenet5_mnist: duplicate key (lines"),
    "deep nesting": (edited(ROOT, "  root: " + "[" * 5000 + "]" * 5000 + " "),
                     f"line {line_of(ROOT)}, column 27: nested deeper than 20 levels; allowed: 20"),
    "billion laughs": (nested_aliases(),
                       f"line {line_of('    milestones: [82')}, column 18: anchors and aliases (& and *)"),
    "one alias": (edited("    lr: 0.001\n", "    lr: &lr 0.001\n    momentum: *lr\n"),
                  "anchors and aliases (& and *) are not allowed"),
    "over 100 KB": (CATALOG.encode() + b"# " + b"x" * 100_000 + b"\n", "larger than 100,000 bytes"),
    "experiment name not text": (edited("  cnn_bn_mnist:\n    dataset", "  123:\n    dataset"),
                                 "the key 123 is not text; quote it"),
    "number as text": (edited("    lr: 0.001\n", "    lr: 1e-3\n"),
                       "experiments.lenet5_mnist.lr: '1e-3' is text to YAML 1.1; allowed: a number"),
    "unknown top-level key": (edited("seeds: [0, 1, 2, 3, 4]", "seed: [0]"),
                              "unknown key 'seed'; did you mean `seeds`?"),
    "comparison of an unknown experiment": (
        edited("a: cnn_mnist, b: mlp_mnist}", "a: cnn_mnst, b: mlp_mnist}"),
        "params.yaml: comparisons.0.a: 'cnn_mnst' is not an experiment; did you mean `cnn_mnist`? name one "
        "of `experiments`, or add it there"),
    "comparison of an experiment with itself": (
        edited("a: cnn_mnist, b: mlp_mnist}", "a: cnn_mnist, b: cnn_mnist}"),
        "params.yaml: comparisons.0: a and b are both cnn_mnist; a comparison names two experiments"),
    "figure of an unknown experiment": (
        edited("permuted: cnn_mnist_permuted}", "permuted: cnn_mnist_shuffled}"),
        "params.yaml: figures.mlp_vs_cnn.CNN.permuted: 'cnn_mnist_shuffled' is not an experiment; "
        "did you mean `cnn_mnist_permuted`?"),
    "figure with an unknown place": (
        edited("{VGG: vgg_cifar10,", "{VGG16: vgg_cifar10,"),
        "params.yaml: figures.vgg_vs_resnet: unknown key 'VGG16'; did you mean `VGG`? allowed keys: "),
}


def project_copy(folder: Path, catalog: bytes) -> Path:
    """The files Snakemake reads, with `catalog` as params.yaml; its jobs' inputs include src/."""
    project = folder / "project"
    project.mkdir()
    for name in ("references.yaml",):
        shutil.copy2(REPO / name, project / name)
    for name in ("workflow", "src"):
        shutil.copytree(REPO / name, project / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (project / "params.yaml").write_bytes(catalog)
    return project


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`command` in the project folder `cwd`, with this Python's tools and cnnlab from `cwd`/src."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(cwd / "src"))
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          errors="backslashreplace", timeout=TIMEOUT)


def assert_refused(result: subprocess.CompletedProcess, words: str) -> str:
    """cnnlab's way: exit 2, nothing on stdout, one line on stderr holding `words`; that line."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr[-2000:]
    line = result.stderr.strip()
    assert line.startswith("cnnlab: error: ") and words in line, line
    assert len(line) < 1000, line
    return line


@pytest.mark.parametrize("name", BAD_FILES)
def test_cnnlab_and_snakemake_refuse_bad_params_file(tmp_path, name):
    catalog, words = BAD_FILES[name]
    project = project_copy(tmp_path, catalog)
    out = tmp_path / "out"
    train = run([sys.executable, "-m", "cnnlab", "train", "lenet5_mnist", "--out", str(out)], project)
    line = assert_refused(train, words)
    assert line.startswith("cnnlab: error: params.yaml: ") and not out.exists()
    result = run(["snakemake", "-n", "all"], project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert line in output.splitlines(), output[-3000:]
    assert "Traceback" not in output and "cnnlab/config.py" not in output, output[-3000:]


def test_cnnlab_and_snakemake_accept_the_real_params_file(tmp_path):
    project = project_copy(tmp_path, CATALOG.encode())
    listing = run([sys.executable, "-m", "cnnlab", "list"], project)
    assert listing.returncode == 0 and listing.stderr == ""
    result = run(["snakemake", "-n", "all"], project)
    assert result.returncode == 0, result.stderr[-3000:]


def test_symlinked_params_file_is_not_printed(tmp_path):
    """params.yaml linked to some other file: the error names the problem, not the file's content."""
    project = project_copy(tmp_path, b"")
    other = tmp_path / "notes.txt"
    other.write_text("root:x:0:0:root:/root:/bin/bash\nSECRET-TOKEN-1234\n" * 50)
    (project / "params.yaml").unlink()
    (project / "params.yaml").symlink_to(other)
    line = assert_refused(run([sys.executable, "-m", "cnnlab", "list"], project),
                          "params.yaml: (top level): the file holds str, not the catalog's keys")
    assert "SECRET" not in line and "root:x" not in line


BAD_OVERRIDES = [  # (--set value, words the error must contain)
    ("epochs=2.0", "epochs: 2.0 is not an integer; allowed: integer (write 2, not 2.0)"),
    ("epochs=1e0", "epochs: 1.0 is not an integer"),
    ("batch_size=64.0", "batch_size: 64.0 is not an integer"),
    ("seeds=[1.0]", "seeds.0: 1.0 is not an integer"),
    ("lr=.nan", "lr: nan is not a finite number"),
    ("weight_decay=.inf", "weight_decay: inf is not a finite number"),
    ("momentum=.nan", "momentum: nan is not a finite number"),
    (f"seeds=[{2**64}]",
     "seeds.0: 18446744073709551616 is out of range; allowed: a value >= 0 and <= 4294967295"),
    ("lr=" + "1" * 5000, "lr: line 1, column 1: a number of 5000 characters; allowed: at most 32"),
    ("lr=[1", "--set lr=[1: lr: line 1, column 3: not valid YAML: expected ',' or ']', but got"),
    ("model={", "--set model={: model: line 1, column 2: not valid YAML: expected the node content"),
    ("lr=*a", "--set lr=*a: lr: line 1, column 1: anchors and aliases (& and *) are not allowed"),
    ("lr=&a 0.1", "anchors and aliases (& and *) are not allowed"),
    ("model=caf\udce9", "--set model=caf\\udce9: model: line 1: the character U+DCE9 is not allowed"),
    ("epoch=3", "--set epoch=3: unknown key 'epoch'; did you mean `epochs`? allowed keys: augment, "),
    ("data.val_size=10.0", "data.val_size: 10.0 is not an integer"),
]


@pytest.mark.parametrize("override, words", BAD_OVERRIDES)
def test_bad_set_values_are_refused_in_one_line(tmp_path, override, words):
    out = tmp_path / "out"
    result = run([sys.executable, "-m", "cnnlab", "train", "lenet5_mnist", "--set", override,
                  "--out", str(out)], REPO)
    line = assert_refused(result, words)
    assert not out.exists()
    if "unknown key" in words:
        allowed = line.split("allowed keys: ")[1].split(", ")
        assert len(allowed) == len(set(allowed)) and "seeds" in allowed


@pytest.mark.parametrize("threads", ["-1", "0", "two", "1.5", "100000"])
def test_threads_must_be_a_positive_whole_number(tmp_path, threads):
    out = tmp_path / "out"
    result = run([sys.executable, "-m", "cnnlab", "train", "lenet5_mnist", "--threads", threads,
                  "--out", str(out)], REPO)
    assert_refused(result, f"argument --threads: '{threads}' is not a thread count; "
                           "allowed: a whole number from 1 to 1024")
    assert not out.exists()


def test_snakemake_refuses_bad_config_values_like_cnnlab(tmp_path):
    """`snakemake --config seeds=[1.0]` is refused at parse time, as `cnnlab train --set seeds=[1.0]` is."""
    project = project_copy(tmp_path, CATALOG.encode())
    result = run(["snakemake", "-n", "all", "--config", "seeds=[1.0]"], project)
    assert result.returncode == 2  # one line on stderr as cnnlab (stdout: Snakemake's note on --config)
    assert stderr_lines(result) == [
        "cnnlab: error: params.yaml with snakemake --config: seeds.0: 1.0 is not an integer; "
        "allowed: integer (write 1, not 1.0)"], result.stderr[-2000:]


def test_config_seeds_beat_the_scales_in_snakemake_as_set_does_in_cnnlab(tmp_path):
    """With `scale: smoke` (seeds [0, 1]), `--config seeds=[0]` plans seed 0 alone, and its job gets
    `--set seeds=[0]`: what cnnlab makes of it agrees with what Snakemake planned."""
    project = project_copy(tmp_path, edited("scale: full", "scale: smoke"))
    result = run(["snakemake", "-n", "-p", "--cores", "1", "results/lenet5_mnist/summary.json",
                  "--config", "seeds=[0]"], project)
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "seed0" in output and "seed1" not in output, output[-3000:]
    assert "--set 'seeds=[0]'" in output
