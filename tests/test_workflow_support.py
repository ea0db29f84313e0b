"""What the Snakemake workflow asks of cnnlab (cnnlab.pipeline.workflow_support): the E8 weights gate, the GPU
check, the --config to --set translation, DVC's stage of a job, and the code each step depends on
(against dvc.yaml and against what train and evaluate really import)."""

import ast
import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnnlab import config
from cnnlab.config.study import gpu_visible
from cnnlab.errors import CnnlabError
from cnnlab.pipeline import workflow_support
from cnnlab.pipeline.workflow_support import (
    buildable_study,
    code_files,
    dvc_stage,
    gpus_per_job,
    imagenet_weights_cached,
    set_options,
    slurm_offers_gpus,
    workflow_params,
)
from cnnlab.results.provenance import STEP_CODE

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# Modules that only pass things along or check them: editing them reruns nothing.
PASS_ALONG = ["src/cnnlab/__init__.py", "src/cnnlab/cli.py", "src/cnnlab/config", "src/cnnlab/errors.py",
              "src/cnnlab/io.py", "src/cnnlab/results", "src/cnnlab/text.py",
              "src/cnnlab/training/__init__.py"]  # a docstring


def test_importing_it_does_not_import_torch():
    """Every `snakemake` start imports it; torch would cost seconds each time."""
    code = "import sys, cnnlab.pipeline.workflow_support; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout == "False\n"


def program(folder: Path, name: str, script: str = "exit 0") -> None:
    """An executable `name` in `folder` that runs the shell `script`."""
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_path(tmp_path, monkeypatch):
    """An empty folder as the whole PATH: no nvidia-smi, no sinfo unless a test puts one there."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return folder


def test_gpu_visible_needs_nvidia_smi_and_visible_devices(bin_path, monkeypatch):
    assert not gpu_visible()
    program(bin_path, "nvidia-smi")
    assert gpu_visible()
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert not gpu_visible()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert gpu_visible()


@pytest.mark.parametrize("listing, offers", [
    ("gpu:a100:4(S:0-1)", True), ("(null)", False), ("(null),gpu:2", True), ("", False),
])
def test_slurm_offers_gpus_reads_sinfo(bin_path, listing, offers):
    assert not slurm_offers_gpus()  # no sinfo: no cluster
    program(bin_path, "sinfo", f"printf '%s\\n' '{listing}'")
    assert slurm_offers_gpus() == offers


def test_gpus_per_job_follows_the_device(bin_path):
    assert [gpus_per_job(device) for device in ("auto", "cpu", "cuda")] == [0, 0, 1]
    program(bin_path, "nvidia-smi")
    assert [gpus_per_job(device) for device in ("auto", "cpu", "cuda")] == [1, 0, 1]


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_study_leaves_out_e8_until_its_weights_are_cached(torch_home):
    params = {**config.load_params(REPO / "params.yaml"), "datasets": ["mnist", "fashion_mnist", "cifar10"]}
    study, left_out = buildable_study(params)
    assert left_out == ["resnet18_transfer_cifar10"] and not imagenet_weights_cached()
    assert study == [name for name in config.study_experiments(params) if name not in left_out]
    weights = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"")
    assert buildable_study(params) == (config.study_experiments(params), [])


def test_weights_are_looked_for_where_torchvision_keeps_them(torch_home, monkeypatch):
    import torch

    from cnnlab.models.transfer import weights_cache_path

    for home in (str(torch_home), None):
        if home is None:  # torch's own fallback: $XDG_CACHE_HOME/torch
            monkeypatch.delenv("TORCH_HOME")
            monkeypatch.setenv("XDG_CACHE_HOME", str(torch_home.parent / "cache"))
        assert torch.hub.get_dir() == os.path.join(workflow_support.torch_home(), "hub")
        assert fnmatch.fnmatch(os.path.basename(weights_cache_path()), workflow_support.IMAGENET_WEIGHTS)


def params_with(**changes) -> dict:
    """params.yaml as Snakemake's `config` holds it, with `changes` as `--config` would make them."""
    raw = config.read_params(REPO / "params.yaml")
    raw.update(changes)
    return raw


def test_config_values_reach_cnnlab_as_set_options():
    params_file = config.load_params(REPO / "params.yaml")
    same = workflow_params(params_with(), params_file)
    assert same == params_file and set_options(same, params_file, "lenet5_mnist") == ""
    defaults = dict(params_file["defaults"], epochs=3)
    changed = workflow_params(params_with(seeds=[7], defaults=defaults), params_file)
    assert set_options(changed, params_file, "lenet5_mnist") == " --set 'seeds=[7]' --set epochs=3"
    assert set_options(changed, params_file, "cnn_bn_mnist") == " --set 'seeds=[7]'"  # epochs: 5, its own
    assert set_options(changed, params_file, "resnet18_cifar10_long") == ""  # its own seeds and epochs


@pytest.mark.parametrize("key", ["data", "scales", "datasets"])
def test_config_may_not_change_what_cnnlab_reads_from_the_file_alone(key):
    params_file = config.load_params(REPO / "params.yaml")
    changed = {"data": dict(params_file["data"], val_size=10), "scales": dict(params_file["scales"], x={}),
               "datasets": ["mnist"]}[key]
    with pytest.raises(CnnlabError, match=f"--config {key}: edit it in params.yaml"):
        workflow_params(params_with(**{key: changed}), params_file)


def test_every_job_has_the_dvc_stage_of_the_same_command():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert dvc_stage("fetch", {"dataset": "mnist"}) == "fetch@mnist"
    for rule, stage in [("train", "runs"), ("evaluate", "runs"), ("summarize", "summary"), ("plot", "plot")]:
        assert dvc_stage(rule, {"exp": "cnn_mnist", "seed": "1"}) == f"{stage}@cnn_mnist"
        assert "foreach" in stages[stage]
        command = stages[stage]["do"]["cmd"]
        assert f"cnnlab {rule} ${{key}}" in command  # Snakemake's job runs it with --seed
    assert dvc_stage("report", {}) == "report" and "cmd" in stages["report"]
    assert workflow_support.PIPELINE_STEPS == [name for name in stages if name != "report"]


def test_dvc_yaml_lists_the_code_of_each_step():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    stage_code = {}  # DVC's stage -> the code of the Snakemake steps it runs
    for step, code in STEP_CODE.items():
        stage_code.setdefault(dvc_stage(step, {"exp": "x", "dataset": "x"}).split("@")[0], set()).update(code)
    for stage, code in stage_code.items():
        stage = stages[stage].get("do", stages[stage])
        assert sorted(dep for dep in stage.get("deps", []) if dep.startswith("src/")) == sorted(code), stage


def test_code_files_are_the_code_files_of_each_folder(monkeypatch):
    monkeypatch.chdir(REPO)
    files = code_files("train")
    assert "src/cnnlab/models/resnet.py" in files and "src/cnnlab/models" not in files
    # the page's markup is a template, the report's words are catalogs: editing either reruns the report
    assert "src/cnnlab/reporting/templates/report.html.j2" in code_files("report")
    assert "src/cnnlab/reporting/messages/zh.yaml" in code_files("report")
    assert all((REPO / path).is_file() for step in STEP_CODE for path in code_files(step))


def cnnlab_imports(path: Path) -> set[Path]:
    """The files of cnnlab's own modules that the module at `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or node.module.split(".")[0] == "cnnlab"):
            base = path.parents[node.level - 1] if node.level else SRC
            target = base.joinpath(*(node.module or "").split("."))
            candidates = [target.with_suffix(".py"), target / "__init__.py",
                          *(target / f"{alias.name}.py" for alias in node.names)]
            found |= {candidate for candidate in candidates if candidate.is_file()}
        elif isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == "cnnlab" for alias in node.names):
                found.add(SRC / "cnnlab" / "__init__.py")
    return found


@pytest.mark.parametrize("step", ["train", "evaluate"])
def test_step_code_covers_everything_the_step_imports(step):
    """A module that train or evaluate comes to import (a new one, after a refactoring) is in the
    step's code, so that changing it reruns the step, or explicitly only passes things along."""
    todo, seen = [SRC / "cnnlab" / "training" / f"{step}.py"], set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += cnnlab_imports(path)
    covered = [*STEP_CODE[step], *PASS_ALONG]
    uncovered = [str(path.relative_to(REPO)) for path in sorted(seen)
                 if not any(path.relative_to(REPO).is_relative_to(entry) for entry in covered)]
    assert uncovered == []
